// The proxy-env page: mint a proxy token for a container started by hand and
// show the docker run arguments that route it through clauderon's proxy, as
// `clauderon proxy-env` prints them. The daemon keeps only the token's hash,
// so this page is the one place it is ever shown: leaving it forgets it.

import { ApiError, api } from './api';
import { dockerRun, h } from './dom';

const nameRE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function proxyEnvPage(main: HTMLElement): () => void {
  const name = h('input', { id: 'pe-name', name: 'name', autocomplete: 'off', placeholder: 'manual-XXXXXX (empty: the daemon picks one)', pattern: nameRE.source });
  const err = h('div', { class: 'field-error', id: 'pe-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'pe-submit' }, 'Mint token');
  const out = h('div', { id: 'pe-result' });
  const form = h('form', { class: 'create', novalidate: true },
    h('p', { class: 'muted' },
      'A proxy token lets a container you start yourself use clauderon\'s proxy: it gets placeholder credentials, the proxy adds the real ones, and its requests are audited like a session\'s. ',
      'The token shows in the session list; deleting it there revokes it.'),
    h('div', { class: 'field', 'data-field': 'name' },
      h('label', { for: 'pe-name' }, 'Name'), name, h('small', { class: 'muted' }, 'lower-case letters, digits and dashes'), err),
    h('div', { class: 'actions' }, submit, h('a', { href: '#/', class: 'button' }, 'Back')));
  main.append(h('h1', {}, 'Proxy token for a container started by hand'), form, out);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    form.querySelector('.field')?.classList.remove('invalid');
    const n = name.value.trim();
    if (n && !nameRE.test(n)) {
      err.textContent = 'use 1-63 lower-case letters, digits and dashes, starting with a letter or digit';
      form.querySelector('.field')?.classList.add('invalid');
      return;
    }
    submit.disabled = true;
    try {
      const pe = await api.proxyEnv(n);
      name.value = '';
      const cmd = dockerRun(pe.args, 'IMAGE', 'claude');
      const copy = h('button', { type: 'button', id: 'pe-copy', class: 'small' }, 'Copy');
      copy.addEventListener('click', async () => {
        try {
          await navigator.clipboard.writeText(cmd);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select the text to copy it';
        }
      });
      out.replaceChildren(h('section', { class: 'panel', id: 'pe-panel' },
        h('div', { class: 'panel-head' }, h('h2', {}, `Token ${pe.session}`),
          h('a', { href: `#/s/${encodeURIComponent(pe.session)}` }, 'its page'), copy),
        h('p', { class: 'warn-note', id: 'pe-once' },
          'This is the only time the token is shown: the daemon keeps just its hash. Copy the command now; leaving this page forgets it.'),
        h('div', { class: 'kv' }, h('span', { class: 'muted' }, 'Token '), h('code', { id: 'pe-token' }, pe.token)),
        h('p', { class: 'muted' }, 'Start the container with these arguments (replace IMAGE and the command with yours):'),
        h('pre', { class: 'output', id: 'pe-args' }, cmd)));
    } catch (e2) {
      const msg = e2 instanceof Error ? e2.message : String(e2);
      err.textContent = msg;
      if (e2 instanceof ApiError && /name/.test(msg)) form.querySelector('.field')?.classList.add('invalid');
    } finally {
      submit.disabled = false;
    }
  });
  name.focus();
  // The token must not outlive the page: forget it on the way out.
  return () => out.replaceChildren();
}
