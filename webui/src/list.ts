// The session list: live from the store, filtered by text and status, with
// archived sessions hidden unless asked for; and reconcile, which makes the
// daemon compare its sessions with their containers.

import { Session, api } from './api';
import { store } from './store';
import { age, badge, clear, h } from './dom';

const prefs = { text: '', status: '', archived: false };

export function listPage(main: HTMLElement): () => void {
  const search = h('input', { type: 'search', id: 'filter', placeholder: 'Filter by name, agent, prompt…', value: prefs.text, 'aria-label': 'filter' });
  const status = h('select', { id: 'status-filter', 'aria-label': 'status' },
    ...['', 'running', 'creating', 'exited', 'failed', 'archived'].map((s) => h('option', { value: s, selected: s === prefs.status }, s || 'any status')));
  const archived = h('input', { type: 'checkbox', id: 'show-archived', checked: prefs.archived });
  const body = h('div', { class: 'list', id: 'session-list' });
  const count = h('span', { class: 'muted' });
  const note = h('div', { class: 'note', id: 'reconcile-note', role: 'status' });
  const reconcile = h('button', { type: 'button', id: 'reconcile', title: 'compare every session with its container and fix the states that drifted' }, 'Reconcile');
  reconcile.addEventListener('click', async () => {
    reconcile.disabled = true;
    note.textContent = 'reconciling…';
    try {
      const changed = await api.reconcile();
      changed.forEach((s) => store.upsert(s));
      note.textContent = changed.length === 0 ? 'All sessions match their containers.'
        : `Reconciled ${changed.length}: ${changed.map((s) => `${s.name} is ${s.status}`).join(', ')}.`;
    } catch (e) {
      note.textContent = `Reconcile failed: ${e instanceof Error ? e.message : e}`;
    } finally {
      reconcile.disabled = false;
    }
  });

  main.append(
    h('div', { class: 'toolbar' },
      h('h1', {}, 'Sessions'), count,
      h('a', { href: '#/new', class: 'button primary' }, 'New session')),
    h('div', { class: 'filters' }, search, status, h('label', { class: 'check' }, archived, 'show archived'), reconcile),
    note,
    body,
  );

  const render = () => {
    prefs.text = search.value.trim().toLowerCase();
    prefs.status = status.value;
    prefs.archived = archived.checked;
    const all = [...store.sessions.values()];
    const shown = all
      .filter((s) => prefs.archived || prefs.status === 'archived' || s.status !== 'archived')
      .filter((s) => !prefs.status || s.status === prefs.status)
      .filter((s) => !prefs.text || [s.name, s.agent, s.backend, s.prompt, s.status, s.repo ?? ''].some((v) => v.toLowerCase().includes(prefs.text)))
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    count.textContent = store.synced ? `${shown.length} of ${all.length}` : 'loading…';
    clear(body);
    if (store.synced && shown.length === 0) {
      body.append(h('p', { class: 'empty' }, all.length === 0 ? 'No sessions yet. ' : 'No session matches. ',
        h('a', { href: '#/new' }, 'Create one')));
      return;
    }
    body.append(h('div', { class: 'row head' },
      h('span', {}, 'Name'), h('span', {}, 'Status'), h('span', {}, 'Agent'), h('span', {}, 'Backend'), h('span', {}, 'Mode'), h('span', {}, 'Age')));
    for (const s of shown) body.append(row(s));
  };

  search.addEventListener('input', render);
  status.addEventListener('change', render);
  archived.addEventListener('change', render);
  const unsub = store.subscribe(render);
  const tick = setInterval(render, 15000); // ages move on
  render();
  search.focus();
  return () => {
    unsub();
    clearInterval(tick);
  };
}

function row(s: Session): HTMLElement {
  return h('a', { class: 'row', href: `#/s/${encodeURIComponent(s.name)}`, 'data-session': s.name },
    h('span', { class: 'name' }, s.name, s.prompt ? h('small', { class: 'prompt' }, s.prompt) : null),
    h('span', {}, badge(s.status)),
    h('span', { 'data-label': 'agent' }, s.agent),
    h('span', { 'data-label': 'backend' }, s.backend),
    h('span', { 'data-label': 'mode' }, s.manual ? 'by hand' : s.mode, s.access_mode === 'read-only' ? h('small', { class: 'ro' }, ' read-only') : null),
    h('span', { 'data-label': 'age', title: new Date(s.created_at).toLocaleString() }, age(s.created_at)));
}
