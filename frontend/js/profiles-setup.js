// Profiles wired for the page: the cache (profiles.js) fed by the api answers that carry
// profiles and by `profile` frames, the in-place repaint (ui/avatar.js), the profile screen.
// Kept out of app.js, which only forwards a frame, a connection state and the session's start/end.
// A `profile` frame of a deleted account whose messages were removed makes the ones held
// tombstones (store-events.js removeMessagesOf).
import { createProfiles, feedFromApi } from './profiles.js';
import { fetchProfiles } from './profile-api.js';
import { bindProfiles } from './ui/avatar.js';
import { mountProfileDialog } from './ui/profile-dialog.js';

/** @param o.onDeleted () => void: this user deleted their account (the profile screen's section) */
export function setupProfiles({ api, store, onChange, onDeleted }) {
  const profiles = createProfiles({ fetchProfiles: (ids) => fetchProfiles(api, ids), defer: queueMicrotask });
  feedFromApi(api, profiles);
  bindProfiles(profiles);
  profiles.onChange(onChange);
  const dialog = mountProfileDialog({ api, store, profiles, onDeleted });
  let everConnected = false;
  return {
    profiles,
    start: (user) => profiles.learn([user]),
    stop() {
      dialog.close();
      profiles.reset();
      everConnected = false;
    },
    /** `profile` frames are not replayed on resume: after a reconnect, ask again. */
    connection(s) {
      if (s.state !== 'connected') return;
      if (everConnected) profiles.refetchAll();
      everConnected = true;
    },
    frame(f) {
      profiles.applyFrame(f);
      if (f && f.deleted === true && f.messagesRemoved === true && f.user) store.removeMessagesOf(f.user.id);
    },
  };
}
