// Profiles wired for the page: the cache (profiles.js) fed by the api answers that carry
// profiles and by `profile` frames, the in-place repaint (ui/avatar.js), the profile screen.
// Kept out of app.js, which only forwards a frame, a connection state and the session's start/end.
import { createProfiles, feedFromApi } from './profiles.js';
import { fetchProfiles } from './profile-api.js';
import { bindProfiles } from './ui/avatar.js';
import { mountProfileDialog } from './ui/profile-dialog.js';

export function setupProfiles({ api, store, onChange }) {
  const profiles = createProfiles({ fetchProfiles: (ids) => fetchProfiles(api, ids), defer: queueMicrotask });
  feedFromApi(api, profiles);
  bindProfiles(profiles);
  profiles.onChange(onChange);
  const dialog = mountProfileDialog({ api, store, profiles });
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
    frame: (f) => profiles.applyFrame(f),
  };
}
