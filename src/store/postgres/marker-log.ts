import type pg from 'pg';

/** Moves of one marker within this window share a log row. */
const MOVE_WINDOW_MS = 1000;
/** Log rows kept per (conversation, member, marker type); older ones are merged. */
const MOVES_KEPT = 64;

/**
 * The log of marker moves ("seen by ... at"), written inside the caller's
 * transaction, with the rules of the SQLite store (see its logMove and
 * compactMoves): a move within a second of the row's opening extends it,
 * and past MOVES_KEPT rows the two closest in time merge.
 */
export class MarkerLog {
  async log(db: pg.PoolClient, ck: number, uk: number, type: 0 | 1, seq: number, at: number): Promise<void> {
    const last = (
      await db.query<{ seq: number; opened_at: number }>(
        `SELECT seq, opened_at FROM marker_moves WHERE conversation_id = $1 AND user_id = $2 AND type = $3
         ORDER BY seq DESC LIMIT 1`,
        [ck, uk, type],
      )
    ).rows[0];
    if (last && at - last.opened_at < MOVE_WINDOW_MS) {
      await db.query(
        'UPDATE marker_moves SET seq = $1, at = $2 WHERE conversation_id = $3 AND user_id = $4 AND type = $5 AND seq = $6',
        [seq, at, ck, uk, type, last.seq],
      );
      return;
    }
    const inserted = await db.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO marker_moves (conversation_id, user_id, type, seq, opened_at, at) VALUES ($1, $2, $3, $4, $5, $5)
       )
       SELECT count(*) + 1 AS n FROM marker_moves WHERE conversation_id = $1 AND user_id = $2 AND type = $3`,
      [ck, uk, type, seq, at],
    );
    if ((inserted.rows[0]?.n ?? 0) > MOVES_KEPT) await this.compact(db, ck, uk, type);
  }

  /** Merges the two neighbouring rows closest in time (the later one absorbs the earlier). */
  private async compact(db: pg.PoolClient, ck: number, uk: number, type: 0 | 1): Promise<void> {
    const rows = (
      await db.query<{ seq: number; at: number; opened_at: number }>(
        'SELECT seq, at, opened_at FROM marker_moves WHERE conversation_id = $1 AND user_id = $2 AND type = $3 ORDER BY seq',
        [ck, uk, type],
      )
    ).rows;
    let best = 0;
    for (let i = 1; i < rows.length - 1; i++) {
      if (rows[i + 1]!.at - rows[i]!.at < rows[best + 1]!.at - rows[best]!.at) best = i;
    }
    const [earlier, later] = [rows[best]!, rows[best + 1]!];
    await db.query('DELETE FROM marker_moves WHERE conversation_id = $1 AND user_id = $2 AND type = $3 AND seq = $4', [ck, uk, type, earlier.seq]);
    await db.query('UPDATE marker_moves SET opened_at = $1 WHERE conversation_id = $2 AND user_id = $3 AND type = $4 AND seq = $5', [
      earlier.opened_at,
      ck,
      uk,
      type,
      later.seq,
    ]);
  }
}
