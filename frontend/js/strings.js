// Every user-facing string of the client's frame (sign-in, header, people, drawer, toasts,
// connection state) in one place, so a translation can replace this one module later. Values
// that embed a number or a name are functions: word order and plurals differ between languages.
// Server errors are never shown as the server words them (that text is for developers and
// logs): `errorText` turns a stable error code into what the product says. One exception: a 409
// `conflict` of a membership change says what the room's state does not allow, in words meant
// for people ("the owner leaves only after making someone else the owner"; room-actions.js).

const seconds = (n) => (n === 1 ? '1 second' : `${n} seconds`);
const waitFor = (sec) => (sec >= 90 ? `${Math.ceil(sec / 60)} minutes` : seconds(sec));

export const STRINGS = Object.freeze({
  auth: {
    taglineFirst: 'Welcome to AuroraChat! Create an account in seconds, or sign in.',
    taglineReturning: 'Welcome back! Sign in to pick up where you left off.',
    taglineRegister: 'Create an account — it takes ten seconds.',
    signIn: 'Sign in',
    signingIn: 'Signing in…',
    register: 'Create account',
    registering: 'Creating account…',
    missingFields: 'Enter a username and a password.',
    signInAgain: 'Please sign in again.',
    sessionEnded: 'Your session has ended. Please sign in again.',
    switchedUser: 'You signed in as another user in another tab. Please sign in again.',
    signedOut: 'You have signed out.',
  },
  // By error code: the users service's REST codes and the chat socket's error-frame codes.
  errors: {
    invalid_username: 'Usernames are 3 to 32 characters: letters, digits, “_”, “.” or “-”.',
    invalid_password: 'Choose a password of at least 8 characters.',
    username_taken: 'That username is taken. Try another one.',
    invalid_credentials: 'Wrong username or password.',
    too_many_attempts: 'Too many attempts. Please wait a moment and try again.',
    too_many_requests: 'You are going a bit fast. Please wait a moment and try again.',
    invalid_refresh_token: 'Your session has ended. Please sign in again.',
    unauthorized: 'Your session has ended. Please sign in again.',
    token_expired: 'Your session has ended. Please sign in again.',
    network: 'Can’t reach AuroraChat. Check your connection and try again.',
    unavailable: 'AuroraChat is having trouble right now. Please try again in a moment.',
    internal: 'Something went wrong on our side. Please try again in a moment.',
    overloaded: 'AuroraChat is very busy right now. Please try again in a moment.',
    forbidden: 'You don’t have access to that conversation.',
    invalid_room: 'That room name isn’t valid.',
    not_joined: 'You’re not in that room any more. Reopen it from the room list.',
    not_found: 'That message no longer exists.',
    too_long: 'That message is too long: the limit is 4,000 characters.',
    rate_limited: 'You are sending too fast. Please wait a moment.',
    muted: 'A moderator muted you in this room.',
    conflict: 'That can’t be done in this room right now.',
    bad_request: 'That request wasn’t accepted.',
    fallback: 'Something went wrong. Please try again.',
  },
  // The same errors when the server said how long to wait (Retry-After).
  errorsWithWait: {
    too_many_attempts: (sec) => `Too many attempts. Try again in ${waitFor(sec)}.`,
    too_many_requests: (sec) => `You are going a bit fast. Try again in ${waitFor(sec)}.`,
    rate_limited: (sec) => `You are sending too fast. Try again in ${waitFor(sec)}.`,
  },
  slowDown: (sec) => `Slow down: you can send again in ${sec} s.`,
  chat: {
    title: (label) => `${label} · AuroraChat`,
    dmWith: (name) => `Direct messages with ${name}`,
    members: (n) => (n === 1 ? '1 member' : `${n} members`),
    leave: 'Leave',
    close: 'Close',
    privateRoom: 'Private room',
    privateTag: '(private)',
    group: 'Group',
    archived: 'archived',
    noTopic: 'No topic',
  },
  drawer: {
    open: 'Open room list',
    openWithUnread: (n) => `Open room list (${n === 1 ? '1 room has' : `${n} rooms have`} unread messages)`,
  },
  people: {
    summary: (members, online) => `— ${online} of ${members} online`,
    you: 'you',
    roles: { owner: 'owner', admin: 'admin', member: '' },
    muted: 'muted',
    isOnline: 'online',
    isOffline: 'offline',
    actionsFor: (name) => `Actions for ${name}`,
    invite: 'Invite people',
    noneFound: 'No one found',
    searchFailed: 'Search failed. Try again.',
    remove: (name) => `Remove ${name}`,
    startGroup: 'Start conversation',
    inviteOk: 'Invite',
  },
  // Rooms with members: the sidebar, the header, dialogs and what happens to the user's rooms.
  rooms: {
    removed: (label) => `You were removed from ${label}`,
    banned: (label) => `You were banned from ${label}`,
    newDm: (name) => `${name} sent you a message`,
    added: (who, label) => `${who} added you to ${label}`,
    addedToGroup: (who) => `${who} added you to a group conversation`,
    noSuchRoom: 'No such room, or you are not a member of it.',
    bannedHere: 'You are banned from this room.',
    archivedHere: 'This room is archived.',
    cannotOpen: (label, why) => `Can’t open ${label}: ${why}`,
    leaveTitle: (label) => `Leave ${label}?`,
    leavePublic: 'You can join it again at any time.',
    leaveMembersOnly: 'You will need a new invitation to come back.',
    leaveOk: 'Leave',
    mutedUntil: (time) => `You are muted until ${time}`,
    mutedFailed: (time) => `you are muted until ${time}`,
    archivedNotice: 'This room is archived: it is read only.',
    create: 'Create a room',
    newGroup: 'New group conversation',
    options: 'Room options',
    editTopic: 'Edit topic…',
    invite: 'Invite people…',
    archive: 'Archive room',
    unarchive: 'Unarchive room',
    archiveTitle: (label) => `Archive ${label}?`,
    archiveMessage: 'Nobody can send in it any more; members can still read it. You can unarchive it later.',
    created: (label) => `Created ${label}`,
    invited: (names) => `Invited ${names}`,
    groupNeeds: 'Choose 2 to 9 people.',
    inviteNeeds: 'Choose at least one person.',
    titleNeeded: 'Give the private room a name.',
    topicTooLong: 'A topic is at most 250 characters.',
    notAllowed: 'Only the room’s owner or admins can do that.',
    notMember: 'That person is not in this room.',
  },
  // What a moderator can do to a member (ui/member-menu.js).
  moderation: {
    kick: 'Remove from room',
    ban: 'Ban from room',
    mute: (label) => `Mute for ${label}`,
    unmute: 'Unmute',
    makeAdmin: 'Make admin',
    makeMember: 'Make member (not admin)',
    transfer: 'Make owner…',
    transferTitle: (name) => `Make ${name} the owner?`,
    transferMessage: 'You will become an admin. Only the owner can change roles.',
    transferOk: 'Make owner',
    banTitle: (name) => `Ban ${name}?`,
    banMessage: 'They leave the room at once and cannot come back until the ban is lifted.',
    banOk: 'Ban',
    durations: [
      { seconds: 300, label: '5 min' },
      { seconds: 3600, label: '1 hour' },
      { seconds: 86400, label: '1 day' },
    ],
  },
  // System lines in the message list: membership and room events (ui/system-line.js).
  system: {
    joined: (m) => `${m} joined`,
    invited: (a, m) => `${a} invited ${m}`,
    left: (m) => `${m} left`,
    kicked: (m, a) => `${m} was kicked by ${a}`,
    banned: (m, a) => `${m} was banned by ${a}`,
    unbanned: (m, a) => `${a} lifted the ban on ${m}`,
    muted: (m, wait) => `${m} was muted for ${wait}`,
    unmuted: (m) => `${m} can send again`,
    madeOwner: (a, m) => `${a} made ${m} the owner`,
    madeAdmin: (a, m) => `${a} made ${m} an admin`,
    madeMember: (a, m) => `${a} made ${m} a member`,
    nowAdmin: (m) => `${m} is now an admin`,
    created: (a) => `${a} created the room`,
    startedGroup: (a) => `${a} started the group`,
    topic: (a, t) => `${a} changed the topic to “${t}”`,
    topicCleared: (a) => `${a} cleared the topic`,
    archived: (a) => `${a} archived the room`,
    unarchived: (a) => `${a} unarchived the room`,
  },
  typing: {
    one: (a) => `${a} is typing…`,
    two: (a, b) => `${a} and ${b} are typing…`,
    several: 'Several people are typing…',
  },
  connection: {
    connected: 'Connected',
    connectedTo: (where) => `Connected to ${where}`,
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    reconnectingIn: (sec) => `Reconnecting in ${sec} s…`,
    offline: 'Offline',
    waitingForNetwork: 'Offline — waiting for network',
    disconnected: 'Disconnected',
    meOnline: 'Online',
    meOffline: 'Offline',
    meReconnecting: 'Reconnecting…',
  },
  toast: {
    dismiss: 'Dismiss',
  },
});

/**
 * What to tell the user about a failed request or a refused frame: the wording for its code,
 * with the wait when the server said how long (`retryAfterSec` from Retry-After, or a frame's
 * `retryAfterMs`). Unknown codes get the generic wording, never the server's text.
 */
export function errorText(err) {
  const code = err && err.code;
  const known = typeof code === 'string' && Object.hasOwn(STRINGS.errors, code);
  const sec = err ? err.retryAfterSec || Math.ceil((err.retryAfterMs || 0) / 1000) : 0;
  if (known && sec > 0 && Object.hasOwn(STRINGS.errorsWithWait, code)) return STRINGS.errorsWithWait[code](sec);
  if (known) return STRINGS.errors[code];
  return err && err.status >= 500 ? STRINGS.errors.internal : STRINGS.errors.fallback;
}
