// The create form. The daemon validates everything; its message is shown by
// the field it is about (a simple match on the words it uses), or above the
// form when it is about none. The name is also checked here, as the user
// types, with the daemon's own rule.

import { ApiError, CreateRequest, api } from './api';
import { store } from './store';
import { h } from './dom';

const nameRE = /^[a-z0-9][a-z0-9-]{0,62}$/;

type Field = 'name' | 'prompt' | 'repo' | 'agent' | 'image' | 'mode' | 'access' | 'allow' | 'backend';

/** fieldFor guesses which field a daemon message is about. */
export function fieldFor(msg: string): Field | null {
  const m = msg.toLowerCase();
  if (/session name|name "|name is|needs --name|\bname\b.*(taken|exists)|already (exists|taken)/.test(m)) return 'name';
  if (/access mode/.test(m)) return 'access';
  if (/host pattern|allow/.test(m)) return 'allow';
  if (/agent/.test(m)) return 'agent';
  if (/image/.test(m)) return 'image';
  if (/backend/.test(m)) return 'backend';
  if (/repo|repository|git|directory|path/.test(m)) return 'repo';
  if (/prompt/.test(m)) return 'prompt';
  return null;
}

export function createPage(main: HTMLElement, go: (hash: string) => void): () => void {
  const errs = new Map<Field, HTMLElement>();
  const field = (f: Field, label: string, input: HTMLElement, hint?: string) => {
    const err = h('div', { class: 'field-error', id: `err-${f}`, role: 'alert' });
    errs.set(f, err);
    return h('div', { class: 'field', 'data-field': f },
      h('label', { for: `f-${f}` }, label), input, hint ? h('small', { class: 'muted' }, hint) : null, err);
  };
  const name = h('input', { id: 'f-name', name: 'name', required: true, autocomplete: 'off', placeholder: 'fix-login-bug', pattern: nameRE.source });
  const prompt = h('textarea', { id: 'f-prompt', name: 'prompt', rows: 4, placeholder: 'What should the agent do?' });
  const repo = h('input', { id: 'f-repo', name: 'repo', placeholder: '/home/me/src/project (empty: an empty workspace)' });
  const agent = h('select', { id: 'f-agent', name: 'agent' }, ...['claude', 'codex', 'gemini'].map((a) => h('option', { value: a }, a)));
  const image = h('input', { id: 'f-image', name: 'image', placeholder: "the agent's default image" });
  const modeI = h('input', { type: 'radio', name: 'mode', id: 'f-mode-interactive', value: 'interactive', checked: true });
  const modeP = h('input', { type: 'radio', name: 'mode', id: 'f-mode-print', value: 'print' });
  const access = h('select', { id: 'f-access', name: 'access' },
    h('option', { value: 'read-write' }, 'read-write'), h('option', { value: 'read-only' }, 'read-only'));
  const allow = h('input', { id: 'f-allow', name: 'allow', placeholder: 'registry.npmjs.org, *.pypi.org' });
  const general = h('div', { class: 'form-error', id: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'create-submit' }, 'Create session');

  const form = h('form', { class: 'create', novalidate: true },
    general,
    field('name', 'Name', name, 'lower-case letters, digits and dashes'),
    field('prompt', 'Prompt', prompt),
    field('repo', 'Repository path', repo, 'a git repository on the daemon\'s machine; the agent works in a worktree of it'),
    h('div', { class: 'two' },
      field('agent', 'Agent', agent),
      field('image', 'Image', image)),
    field('mode', 'Mode', h('div', { class: 'radios' },
      h('label', { class: 'check' }, modeI, 'interactive (a terminal)'),
      h('label', { class: 'check' }, modeP, 'print (answers once)'))),
    h('div', { class: 'two' },
      field('access', 'Access mode', access, 'read-only: only GET/HEAD on credentialed hosts'),
      field('allow', 'Allowed hosts', allow, 'besides the agent\'s provider; comma separated')),
    h('div', { class: 'actions' }, submit, h('a', { href: '#/', class: 'button' }, 'Cancel')),
  );
  main.append(h('h1', {}, 'New session'), form);

  const showErr = (f: Field | null, msg: string) => {
    const el = f ? errs.get(f) : null;
    if (el) {
      el.textContent = msg;
      el.closest('.field')?.classList.add('invalid');
    } else {
      general.textContent = msg;
    }
  };
  const clearErrs = () => {
    general.textContent = '';
    for (const el of errs.values()) {
      el.textContent = '';
      el.closest('.field')?.classList.remove('invalid');
    }
  };
  name.addEventListener('input', () => {
    const el = errs.get('name')!;
    const v = name.value;
    const bad = v !== '' && !nameRE.test(v);
    el.textContent = bad ? 'use 1-63 lower-case letters, digits and dashes, starting with a letter or digit' : '';
    el.closest('.field')?.classList.toggle('invalid', bad);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrs();
    const req: CreateRequest = {
      name: name.value.trim(),
      prompt: prompt.value,
      agent: agent.value,
      print: modeP.checked,
      access_mode: access.value,
    };
    if (repo.value.trim()) req.repo = repo.value.trim();
    if (image.value.trim()) req.image = image.value.trim();
    const hosts = allow.value.split(/[\s,]+/).filter(Boolean);
    if (hosts.length) req.allow = hosts;
    if (!req.name) return showErr('name', 'a session needs a name');
    if (!nameRE.test(req.name)) return showErr('name', 'use 1-63 lower-case letters, digits and dashes, starting with a letter or digit');
    if (req.print && !req.prompt.trim()) return showErr('prompt', 'a print session needs a prompt: it answers it once and exits');
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const s = await api.create(req);
      store.upsert(s);
      go(`#/s/${encodeURIComponent(s.name)}`);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      showErr(err instanceof ApiError ? fieldFor(msg) : null, msg);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create session';
    }
  });
  name.focus();
  return () => {};
}
