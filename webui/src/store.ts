// The live session list: one GET /v1/events stream for the whole page. It
// opens with a sync of every session and then applies each change, so pages
// never poll. When the stream breaks it reconnects and gets a fresh sync.

import { ApiError, Session, SessionEvent, ndjson } from './api';

type Listener = () => void;

class Store {
  sessions = new Map<string, Session>();
  synced = false;
  private listeners = new Set<Listener>();
  private ctl: AbortController | null = null;
  private retry = 0;
  onState: (state: 'live' | 'reconnecting' | 'offline', detail?: string) => void = () => {};

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit() {
    for (const fn of this.listeners) fn();
  }

  /** upsert applies a session the page already got from a call. */
  upsert(s: Session) {
    this.sessions.set(s.name, s);
    this.emit();
  }

  forget(name: string) {
    this.sessions.delete(name);
    this.emit();
  }

  start() {
    if (this.ctl) return;
    const ctl = new AbortController();
    this.ctl = ctl;
    const run = async () => {
      while (!ctl.signal.aborted) {
        try {
          await ndjson<SessionEvent>('/v1/events', ctl.signal, (ev) => this.apply(ev));
          this.onState('reconnecting', 'the daemon ended the stream');
        } catch (e) {
          if (ctl.signal.aborted) return;
          if (e instanceof ApiError && e.status === 401) {
            this.onState('offline', 'log in to see sessions');
            this.stop();
            return;
          }
          this.onState('reconnecting', e instanceof Error ? e.message : String(e));
        }
        this.retry = Math.min(this.retry + 1, 5);
        await new Promise((r) => setTimeout(r, 500 * 2 ** this.retry));
      }
    };
    void run();
  }

  stop() {
    this.ctl?.abort();
    this.ctl = null;
  }

  private apply(ev: SessionEvent) {
    switch (ev.type) {
      case 'sync':
        this.sessions = new Map((ev.sessions ?? []).map((s) => [s.name, s]));
        this.synced = true;
        this.retry = 0;
        this.onState('live');
        break;
      case 'created':
      case 'updated':
        if (ev.session) this.sessions.set(ev.session.name, ev.session);
        break;
      case 'deleted':
        if (ev.session) this.sessions.delete(ev.session.name);
        break;
    }
    this.emit();
  }
}

export const store = new Store();
