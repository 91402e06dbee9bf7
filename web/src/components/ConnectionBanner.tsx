import { useParley } from '../hooks/useParley';

/** Says when the live connection is down or catching up (floats, so nothing below moves). */
export function ConnectionBanner() {
  const client = useParley();
  const text = client.connection === 'reconnecting' ? 'Reconnecting…' : client.connection === 'syncing' ? 'Catching up…' : '';
  return (
    <div className={`connection-banner ${text ? 'visible' : ''} ${client.connection}`} role="status">
      {text}
    </div>
  );
}
