// The web UI's entry point: a hash router over four pages (the list, the
// create form, a session, a proxy token), the login form when the daemon
// asks for one, and the live connection indicator.

import '@xterm/xterm/css/xterm.css';
import './style.css';
import { api, setUnauthorizedHandler } from './api';
import { store } from './store';
import { clear, h } from './dom';
import { listPage } from './list';
import { createPage } from './create';
import { sessionPage } from './session';
import { proxyEnvPage } from './proxyenv';

const main = document.getElementById('main') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
const logout = document.getElementById('logout') as HTMLButtonElement;
let leave: () => void = () => {};
let loggingIn = false;

function go(hash: string) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (loggingIn) return;
  leave();
  clear(main);
  const hash = location.hash || '#/';
  for (const a of document.querySelectorAll('nav a')) a.classList.remove('active');
  let m: RegExpMatchArray | null;
  if (hash === '#/new') {
    document.querySelector('[data-nav=new]')?.classList.add('active');
    document.title = 'New session · clauderon';
    leave = createPage(main, go);
  } else if (hash === '#/proxy-env') {
    document.querySelector('[data-nav=proxy-env]')?.classList.add('active');
    document.title = 'Proxy token · clauderon';
    leave = proxyEnvPage(main);
  } else if ((m = hash.match(/^#\/s\/(.+)$/))) {
    const name = decodeURIComponent(m[1]);
    document.title = `${name} · clauderon`;
    leave = sessionPage(main, name, go);
  } else {
    document.querySelector('[data-nav=list]')?.classList.add('active');
    document.title = 'Sessions · clauderon';
    leave = listPage(main);
  }
}

function showLogin() {
  if (loggingIn) return;
  loggingIn = true;
  leave();
  leave = () => {};
  store.stop();
  clear(main);
  const token = h('input', { type: 'password', id: 'token', autocomplete: 'current-password', required: true });
  const err = h('div', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'login' },
    h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'This daemon asks for its web token: run ', h('code', {}, 'clauderon web token'), ' on its machine.'),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'Token'), token),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api.login(token.value.trim());
      loggingIn = false;
      sessionStorage.setItem('clauderon-login', '1');
      logout.hidden = false;
      store.start();
      route();
    } catch (e2) {
      err.textContent = e2 instanceof Error ? e2.message : String(e2);
    }
  });
  main.append(form);
  token.focus();
}

store.onState = (state, detail) => {
  live.textContent = state === 'live' ? 'live' : state === 'reconnecting' ? 'reconnecting…' : 'offline';
  live.className = `live ${state}`;
  live.title = detail ?? 'live updates from the daemon';
};

logout.hidden = sessionStorage.getItem('clauderon-login') !== '1';
logout.addEventListener('click', async () => {
  await api.logout().catch(() => {});
  sessionStorage.removeItem('clauderon-login');
  logout.hidden = true;
  showLogin();
});

setUnauthorizedHandler(showLogin);
window.addEventListener('hashchange', route);
store.start();
route();
