// Usernames of people seen before (DM peers), kept per device so a DM's label shows a name at
// once on the next load, before the room list and profiles arrive.
const NAMES_KEY = 'aurora.names';

/** Fills the store's names from this device (names already known win). */
export function loadNames(store) {
  try {
    const saved = JSON.parse(localStorage.getItem(NAMES_KEY) || '{}');
    for (const [id, name] of Object.entries(saved)) if (!store.state.names.has(id)) store.state.names.set(id, String(name));
  } catch {
    /* ignore */
  }
}
/** Keeps the newest 500. */
export function saveNames(store) {
  const obj = Object.fromEntries([...store.state.names].slice(-500));
  localStorage.setItem(NAMES_KEY, JSON.stringify(obj));
}
