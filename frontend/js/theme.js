// Light or dark: the system's prefers-color-scheme unless the user chose otherwise with the
// theme toggle (#theme-toggle, a pressed/not-pressed "Light theme" button). The choice is kept
// in localStorage only while it differs from the system's: toggling back to what the system
// prefers forgets it, so the page follows the system again.
//
// A classic script loaded from <head> on purpose, not a module: modules run after the first
// paint can happen, and a chosen light theme would flash dark first. It sets
// <html data-theme="light|dark">, which app.css reads; it needs nothing from the other modules.
(() => {
  const KEY = 'aurora.theme';
  const system = window.matchMedia('(prefers-color-scheme: light)');
  const systemTheme = () => (system.matches ? 'light' : 'dark');
  const stored = () => {
    try {
      const v = localStorage.getItem(KEY);
      return v === 'light' || v === 'dark' ? v : null;
    } catch {
      return null; // storage blocked: follow the system
    }
  };
  let unsaved = null; // the choice when storage is blocked: kept for this page only
  const current = () => unsaved || stored() || systemTheme();

  function apply() {
    const theme = current();
    const root = document.documentElement;
    root.dataset.theme = theme;
    const meta = document.querySelector('meta[name="theme-color"]');
    if (meta) meta.content = theme === 'light' ? '#f5f6f8' : '#111214';
    const toggle = document.getElementById('theme-toggle');
    if (toggle) toggle.setAttribute('aria-pressed', String(theme === 'light'));
  }

  function toggle() {
    const next = current() === 'light' ? 'dark' : 'light';
    const choice = next === systemTheme() ? null : next;
    try {
      if (choice) localStorage.setItem(KEY, choice);
      else localStorage.removeItem(KEY);
    } catch {
      unsaved = choice;
    }
    apply();
  }

  apply();
  system.addEventListener('change', apply);
  // Another tab toggled.
  window.addEventListener('storage', (ev) => {
    if (ev.key === KEY || ev.key === null) apply();
  });
  document.addEventListener('DOMContentLoaded', apply);
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest('#theme-toggle') : null;
    if (target) toggle();
  });
})();
