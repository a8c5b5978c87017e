// A session's page: what it is, what it can do next (stop, start, archive,
// delete, each confirmed; pull for Kubernetes sessions), its access mode
// (switched at once), its terminal or its output, and its audit trail: every
// request its agent made through the proxy.

import { AccessMode, ApiError, AuditEvent, Session, api, bytes, ndjson } from './api';
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
  const note = h('div', { class: 'note', id: 'action-note', role: 'status' });
  const live = h('div', { id: 'live-panel' });
  const audit = auditPanel(name, ctl.signal);
  main.append(
    h('div', { class: 'toolbar' }, h('a', { href: '#/', class: 'back' }, '← Sessions'), title, st),
    msg, note, actions, info, live, audit);

  let panelKey = '';
  let disposePanel = () => {};
  let missing = false;

  const act = async (label: string, fn: () => Promise<unknown>) => {
    msg.textContent = '';
    note.textContent = '';
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
    // A proxy-env token has no container here: only its access mode,
    // archive and delete (which revokes it) apply.
    if (!s.manual && (s.status === 'running' || s.status === 'creating')) {
      actions.append(btn('Stop', 'act-stop', async () => {
        if (await confirmDialog(`Stop ${s.name}? Its container stops; start it again later.`, 'Stop')) await act('Stop', () => api.stop(s.name));
      }));
    }
    if (!s.manual && (s.status === 'exited' || s.status === 'failed')) actions.append(btn('Start', 'act-start', () => act('Start', () => api.start(s.name))));
    if (s.status === 'archived') {
      actions.append(btn('Unarchive', 'act-unarchive', () => act('Unarchive', () => api.unarchive(s.name))));
    } else {
      actions.append(btn('Archive', 'act-archive', async () => {
        if (await confirmDialog(`Archive ${s.name}? It is stopped and hidden from the list; its proxy token stops working.`, 'Archive')) await act('Archive', () => api.archive(s.name));
      }));
    }
    if (s.backend === 'kubernetes' && s.branch && s.status !== 'archived') {
      // Kubernetes sessions work in a volume in the cluster: their commits
      // reach the user's repository only when pulled.
      actions.append(btn('Pull commits', 'act-pull', () => act('Pull', async () => {
        const r = await api.pull(s.name);
        note.textContent = r.message;
      })));
    }
    actions.append(btn('Delete', 'act-delete', () => void remove(s), 'danger'));

    clear(info);
    const row = (k: string, v: string | Node | undefined) => (v ? [h('dt', {}, k), h('dd', {}, v)] : []);
    info.append(
      ...row('Agent', s.agent), ...row('Backend', s.backend), ...row('Image', s.image),
      ...row('Mode', s.manual ? 'a container started by hand (proxy-env)' : s.mode),
      ...row('Access', accessControl(s)),
      ...row('Allowed hosts', (s.allow ?? []).length ? s.allow!.join(', ') : h('span', { class: 'muted', id: 'allow-none' }, s.manual ? "none besides the agents' providers" : "none besides the agent's provider")),
      ...row('Repository', s.repo), ...row('Branch', s.branch), ...row('Worktree', s.worktree),
      ...row('Created', `${new Date(s.created_at).toLocaleString()} (${age(s.created_at)} ago)`),
      ...row('Limits', limits(s)),
      ...row('Exit code', s.exit_code === undefined ? undefined : String(s.exit_code)),
      ...row('Error', s.error), ...row('Prompt', s.prompt),
    );

    const key = s.manual ? 'manual' : s.mode === 'interactive' && s.status === 'running' ? 'terminal' : `output:${s.status === 'running'}`;
    if (key !== panelKey) {
      panelKey = key;
      disposePanel();
      disposePanel = () => {};
      clear(live);
      if (key === 'manual') {
        live.append(h('p', { class: 'note' }, 'This is a proxy token minted for a container started by hand: clauderon has no terminal or output for it. Its requests show in the audit trail below; delete it to revoke the token.'));
      } else if (key === 'terminal') {
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

  /** accessControl shows the access mode and the button that switches it, at once. */
  const accessControl = (s: Session) => {
    const other: AccessMode = s.access_mode === 'read-only' ? 'read-write' : 'read-only';
    const what = other === 'read-only' ? 'only GET and HEAD on credentialed hosts' : 'every method on credentialed hosts';
    const b = h('button', { type: 'button', id: 'act-access', class: 'small', title: `switch to ${other}: ${what}`,
      onclick: () => act('Access mode', async () => {
        const r = await api.setAccessMode(s.name, other);
        note.textContent = `${r.name} is now ${r.access_mode}, from its next request on.`;
        return r;
      }) }, other === 'read-only' ? 'Make read-only' : 'Make read-write');
    return h('span', { class: 'access' }, h('span', { id: 'access-mode', class: `badge am-${s.access_mode}` }, s.access_mode), b);
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

function limits(s: Session): string | undefined {
  const parts: string[] = [];
  if (s.cpus) parts.push(`${s.cpus} CPU${s.cpus === 1 ? '' : 's'}`);
  if (s.memory_bytes) parts.push(`${Math.round(s.memory_bytes / 2 ** 20)} MiB`);
  return parts.length ? parts.join(', ') : undefined;
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
