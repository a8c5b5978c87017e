// A session's terminal in the page: xterm.js over the attach WebSocket.
// Binary messages carry the terminal's bytes both ways; a text message
// {"type":"resize","cols","rows"} tells the daemon the size. Closing the
// socket only detaches: the session goes on, and the terminal reconnects by
// itself when the connection drops (not when the agent exits).

import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { api } from './api';
import { h } from './dom';

const NORMAL_CLOSURE = 1000; // the daemon's "the session's terminal ended"
const POLICY = 1008;

export class SessionTerminal {
  readonly el: HTMLElement;
  private term: Terminal;
  private fit = new FitAddon();
  private ws: WebSocket | null = null;
  private closed = false;
  private retries = 0;
  private timer: number | undefined;
  private observer: ResizeObserver;
  private status: HTMLElement;
  private enc = new TextEncoder();

  constructor(private name: string) {
    this.status = h('span', { class: 'term-status', id: 'term-status' }, 'connecting…');
    const screen = h('div', { class: 'term', id: 'terminal' });
    const reconnect = h('button', { id: 'term-reconnect', type: 'button', onclick: () => this.reconnect() }, 'Reconnect');
    this.el = h('section', { class: 'panel terminal-panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Terminal'), this.status, reconnect),
      screen);
    const narrow = window.matchMedia('(max-width: 640px)').matches;
    this.term = new Terminal({
      cursorBlink: true,
      fontSize: narrow ? 12 : 14,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      scrollback: 5000,
      theme: { background: '#16181d', foreground: '#e6e6e6' },
    });
    this.term.loadAddon(this.fit);
    this.term.open(screen);
    this.term.onData((d) => this.sendBytes(this.enc.encode(d)));
    this.term.onBinary((d) => this.sendBytes(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
    this.term.onResize(() => this.sendSize());
    this.observer = new ResizeObserver(() => this.refit());
    this.observer.observe(screen);
    this.refit();
    this.connect();
  }

  private setStatus(s: string, cls = '') {
    this.status.textContent = s;
    this.status.className = `term-status ${cls}`;
  }

  private refit() {
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  private sendBytes(b: Uint8Array) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(b);
  }

  private sendSize() {
    if (this.ws?.readyState === WebSocket.OPEN && this.term.cols > 0 && this.term.rows > 0) {
      this.ws.send(JSON.stringify({ type: 'resize', cols: this.term.cols, rows: this.term.rows }));
    }
  }

  private connect() {
    clearTimeout(this.timer);
    const ws = new WebSocket(api.attachURL(this.name));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.retries = 0;
      this.setStatus('attached', 'ok');
      this.refit();
      this.sendSize();
      this.term.focus();
    };
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) this.term.write(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws || this.closed) return;
      this.ws = null;
      if (ev.code === NORMAL_CLOSURE) {
        this.setStatus('the session\'s terminal ended', 'muted');
        this.term.write('\r\n\x1b[2m[session ended]\x1b[0m\r\n');
        return;
      }
      if (ev.code === POLICY) {
        this.setStatus(`refused: ${ev.reason}`, 'bad');
        return;
      }
      this.retries = Math.min(this.retries + 1, 6);
      const wait = 250 * 2 ** this.retries;
      this.setStatus(`connection lost; reconnecting in ${Math.round(wait / 1000)}s…`, 'warn');
      this.timer = window.setTimeout(() => this.connect(), wait);
    };
  }

  /** reconnect drops the connection and attaches again; the session is untouched. */
  reconnect() {
    const old = this.ws;
    this.ws = null;
    old?.close(NORMAL_CLOSURE, 'reconnecting');
    this.setStatus('reconnecting…', 'warn');
    this.connect();
  }

  dispose() {
    this.closed = true;
    clearTimeout(this.timer);
    this.observer.disconnect();
    this.ws?.close(NORMAL_CLOSURE, 'detached');
    this.term.dispose();
  }
}
