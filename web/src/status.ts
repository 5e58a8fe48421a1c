import type { ClientState } from '@tracewire/client';

/** Shows the connection state: reconnecting and unreachable are visible, with the reason. */
export function showStatus(badge: HTMLElement, state: Readonly<ClientState>): void {
  badge.dataset['status'] = state.status;
  badge.title = state.error?.message ?? '';
  switch (state.status) {
    case 'connecting':
      badge.textContent = state.everConnected ? 'Reconnecting…' : 'Connecting…';
      break;
    case 'connected':
      badge.textContent = 'Connected';
      break;
    case 'unavailable':
      badge.textContent = 'Server unreachable, retrying…';
      break;
    case 'refused':
      badge.textContent = 'Connection refused';
      break;
    case 'closed':
      badge.textContent = 'Closed';
      break;
  }
}
