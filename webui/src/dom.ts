// A few DOM helpers: no framework, just elements.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | number | EventListener | undefined>;

/** h builds an element: h('a', {href: '#/'}, 'text', child). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v as EventListener);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

export function clear(el: Element) {
  while (el.firstChild) el.firstChild.remove();
}

/** age says how long ago t was, shortly: 5s, 3m, 2h, 4d. */
export function age(t: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(t)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function badge(status: string): HTMLElement {
  return h('span', { class: `badge st-${status}` }, status);
}

/** confirmDialog asks in a modal and resolves true on OK. */
export function confirmDialog(text: string, ok = 'OK'): Promise<boolean> {
  const dlg = document.getElementById('confirm') as HTMLDialogElement;
  (document.getElementById('confirm-text') as HTMLElement).textContent = text;
  (document.getElementById('confirm-ok') as HTMLElement).textContent = ok;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

/** stripAnsi removes terminal escape sequences from output shown as text. */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]/g, '').replace(/\r(?!\n)/g, '');
}

/** shellQuote quotes s for a POSIX shell when it needs it. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * dockerRun renders proxy-env's arguments as a docker run command to paste,
 * one flag and its value a line.
 */
export function dockerRun(args: string[], image = 'IMAGE', cmd = ''): string {
  const lines = ['docker run -it --rm'];
  for (let i = 0; i < args.length; i++) {
    const a = shellQuote(args[i]);
    if (args[i].startsWith('-') && i + 1 < args.length && !args[i + 1].startsWith('-')) {
      lines.push(`  ${a} ${shellQuote(args[++i])}`);
    } else {
      lines.push(`  ${a}`);
    }
  }
  lines.push(`  ${image}${cmd ? ' ' + cmd : ''}`);
  return lines.join(' \\\n');
}
