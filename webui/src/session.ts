// A session's page: what it is, what it can do next (stop, start, archive,
// delete, each confirmed), its terminal or its output, and its audit trail:
// every request its agent made through the proxy.

import { ApiError, AuditEvent, Session, api, bytes, ndjson } from './api';
import { store } from './store';
import { SessionTerminal } from './terminal';
import { age, badge, clear, confirmDialog, h, stripAnsi } from './dom';

const AUDIT_LINES = 200;

export function sessionPage(main: HTMLElement, name: string, go: (hash: string) => void): () => void {
  const ctl = new AbortController();
  const title = h('h1', {}, name);
  const st = h('span', {});
  const info = h('dl', { class: 'info' });
  const actions = h('div', { class: 'actions', id: 'session-actions' });
  const msg = h('div', { class: 'form-error', id: 'action-error', role: 'alert' });
  const live = h('div', { id: 'live-panel' });
  const audit = auditPanel(name, ctl.signal);
  main.append(
    h('div', { class: 'toolbar' }, h('a', { href: '#/', class: 'back' }, '← Sessions'), title, st),
    msg, actions, info, live, audit);

  let panelKey = '';
  let disposePanel = () => {};
  let missing = false;

  const act = async (label: string, fn: () => Promise<unknown>) => {
    msg.textContent = '';
    for (const b of actions.querySelectorAll('button')) (b as HTMLButtonElement).disabled = true;
    try {
      const r = await fn();
      if (r && typeof r === 'object' && 'name' in r) store.upsert(r as Session);
    } catch (e) {
      msg.textContent = `${label} failed: ${e instanceof Error ? e.message : e}`;
    } finally {
      render();
    }
  };

  const remove = async (s: Session) => {
    if (!(await confirmDialog(`Delete session ${s.name}? Its container and worktree are removed (its branch and commits stay).`, 'Delete'))) return;
    try {
      await api.remove(s.name, false);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'conflict') {
        if (!(await confirmDialog(`${e.message}\n\nDelete anyway and lose that work?`, 'Delete anyway'))) return;
        await act('Delete', () => api.remove(s.name, true));
        if (msg.textContent) return;
      } else {
        msg.textContent = `Delete failed: ${e instanceof Error ? e.message : e}`;
        return;
      }
    }
    store.forget(s.name);
    go('#/');
  };

  const render = () => {
    const s = store.sessions.get(name);
    if (!s) {
      if (store.synced && !missing) {
        missing = true;
        clear(st);
        clear(actions);
        clear(info);
        disposePanel();
        clear(live);
        msg.textContent = `There is no session ${name} (it may have been deleted).`;
      }
      return;
    }
    missing = false;
    clear(st);
    st.append(badge(s.status));
    clear(actions);
    const btn = (label: string, id: string, fn: () => void, cls = '') =>
      h('button', { type: 'button', id, class: cls, onclick: fn }, label);
    if (s.status === 'running' || s.status === 'creating') {
      actions.append(btn('Stop', 'act-stop', async () => {
        if (await confirmDialog(`Stop ${s.name}? Its container stops; start it again later.`, 'Stop')) await act('Stop', () => api.stop(s.name));
      }));
    }
    if (s.status === 'exited' || s.status === 'failed') actions.append(btn('Start', 'act-start', () => act('Start', () => api.start(s.name))));
    if (s.status === 'archived') {
      actions.append(btn('Unarchive', 'act-unarchive', () => act('Unarchive', () => api.unarchive(s.name))));
    } else {
      actions.append(btn('Archive', 'act-archive', async () => {
        if (await confirmDialog(`Archive ${s.name}? It is stopped and hidden from the list; its proxy token stops working.`, 'Archive')) await act('Archive', () => api.archive(s.name));
      }));
    }
    actions.append(btn('Delete', 'act-delete', () => void remove(s), 'danger'));

    clear(info);
    const row = (k: string, v: string | Node | undefined) => (v ? [h('dt', {}, k), h('dd', {}, v)] : []);
    info.append(
      ...row('Agent', s.agent), ...row('Backend', s.backend), ...row('Image', s.image),
      ...row('Mode', s.mode), ...row('Access', s.access_mode),
      ...row('Repository', s.repo), ...row('Branch', s.branch), ...row('Worktree', s.worktree),
      ...row('Created', `${new Date(s.created_at).toLocaleString()} (${age(s.created_at)} ago)`),
      ...row('Exit code', s.exit_code === undefined ? undefined : String(s.exit_code)),
      ...row('Error', s.error), ...row('Prompt', s.prompt),
    );

    const key = s.mode === 'interactive' && s.status === 'running' ? 'terminal' : `output:${s.status === 'running'}`;
    if (key !== panelKey) {
      panelKey = key;
      disposePanel();
      clear(live);
      if (key === 'terminal') {
        const t = new SessionTerminal(name);
        live.append(t.el);
        disposePanel = () => t.dispose();
      } else {
        const o = outputPanel(name, s.status === 'running');
        live.append(o.el);
        disposePanel = o.dispose;
      }
    }
  };

  const unsub = store.subscribe(render);
  if (!store.sessions.has(name)) {
    api.get(name).then((s) => store.upsert(s), () => render());
  }
  render();
  return () => {
    unsub();
    ctl.abort();
    disposePanel();
  };
}

/** outputPanel shows the session's output (its logs), following it while it runs. */
function outputPanel(name: string, follow: boolean) {
  const ctl = new AbortController();
  const pre = h('pre', { class: 'output', id: 'output' });
  const note = h('span', { class: 'muted' }, follow ? 'following…' : '');
  const el = h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', {}, 'Output'), note), pre);
  const dec = new TextDecoder();
  let text = '';
  bytes(`/v1/sessions/${encodeURIComponent(name)}/logs${follow ? '?follow=true' : ''}`, ctl.signal, (chunk) => {
    text += dec.decode(chunk, { stream: true });
    pre.textContent = stripAnsi(text);
    pre.scrollTop = pre.scrollHeight;
  }).then(() => {
    note.textContent = '';
    if (!text) pre.textContent = '(no output)';
  }, (e) => {
    if (!ctl.signal.aborted) note.textContent = e instanceof Error ? e.message : String(e);
  });
  return { el, dispose: () => ctl.abort() };
}

/** auditPanel lists the session's latest audit events, then follows new ones. */
function auditPanel(name: string, signal: AbortSignal): HTMLElement {
  const body = h('tbody', { id: 'audit-rows' });
  const note = h('span', { class: 'muted' }, 'loading…');
  const el = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Audit trail'), note),
    h('div', { class: 'scroll' }, h('table', { class: 'audit' },
      h('thead', {}, h('tr', {}, ...['Time', 'Method', 'Host', 'Path', 'Status', 'Credential', 'Decision'].map((c) => h('th', {}, c)))),
      body)));
  const add = (ev: AuditEvent) => {
    const denied = ev.decision === 'denied' || ev.decision === 'error';
    body.prepend(h('tr', { class: denied ? 'denied' : '' },
      h('td', { title: ev.ts }, new Date(ev.ts).toLocaleTimeString()),
      h('td', {}, ev.method),
      h('td', {}, ev.host),
      h('td', { class: 'path' }, ev.path),
      h('td', {}, ev.status ? String(ev.status) : ''),
      h('td', {}, ev.auth_injected ? `injected${ev.rule ? ` (${ev.rule})` : ''}` : 'none'),
      h('td', {}, ev.decision, ev.error ? h('div', { class: 'why' }, ev.error) : null)));
    while (body.children.length > AUDIT_LINES) body.lastElementChild?.remove();
  };
  api.audit(name, AUDIT_LINES).then((events) => {
    events.forEach(add);
    note.textContent = events.length ? '' : 'no requests yet';
    return ndjson<AuditEvent>(`/v1/audit?session=${encodeURIComponent(name)}&follow=true`, signal, (ev) => {
      note.textContent = '';
      add(ev);
    });
  }).catch((e) => {
    if (!signal.aborted) note.textContent = e instanceof Error ? e.message : String(e);
  });
  return el;
}
