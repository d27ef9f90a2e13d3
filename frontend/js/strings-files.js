// The user-facing strings of files and search (issue 16), kept apart from strings.js while those
// features settle; the same rules: values that embed a number or a name are functions.
// One deliberate exception to "never show the server's words": an upload refused for its size,
// type, rate or quota shows the server's message next to the file (it states the limit: "files
// are limited to 26214400 bytes", "at most 20 uploads a minute; try again in 12 s").

export const FILES = Object.freeze({
  attach: 'Attach files',
  strip: 'Files to send',
  waiting: 'Waiting to upload…',
  uploading: (pct) => `Uploading… ${pct}%`,
  ready: 'Ready to send',
  failed: (why) => `Not uploaded: ${why}`,
  cancel: (name) => `Cancel the upload of ${name}`,
  remove: (name) => `Remove ${name}`,
  sendBusy: 'Uploading…',
  sendBusyTitle: 'Sending waits until every file has finished uploading',
  tooMany: (n) => `At most ${n} files per message.`,
  noRoom: 'Open a room first, then attach files.',
  drop: 'Drop files to send them here',
  open: (name) => `Open ${name} full size`,
  download: 'Download',
  downloadName: (name) => `Download ${name}`,
  unavailable: 'This file is no longer available.',
  viewerTitle: 'Image',
  close: 'Close',
  badAttachment: 'a file of it could not be attached (attach it again)',
  tooLarge: 'the file is too large',
  network: 'the upload was interrupted — check your connection',
});

export const SEARCH = Object.freeze({
  title: 'Search messages',
  button: 'Search messages (Ctrl+K)',
  placeholder: 'Search messages',
  searching: 'Searching…',
  none: (q) => `No messages match “${q}”.`,
  failed: 'Search failed. Please try again.',
  tooLong: 'Searches are at most 200 characters.',
  needWord: 'Type a word (letters or digits) to search for.',
  hint: 'Type words to find; "quotes" for a phrase, word* for a prefix. ↑↓ to choose, Enter to open.',
  count: (n, more) => (n === 1 ? '1 message' : `${n}${more ? '+' : ''} messages`),
  more: 'More results',
  loadingMore: 'Loading…',
  inThread: 'in a thread',
  privateRoom: 'Private room',
  group: 'Group conversation',
  dm: 'Direct message',
  results: 'Results',
  deleted: 'message deleted',
  attachmentsOnly: (n) => (n === 1 ? '1 file' : `${n} files`),
  // A page around a message (GET …/messages?around=), scrolled to from a search result.
  loadNewer: 'Load newer messages',
  loadingNewer: 'Loading newer messages…',
  newerFailed: 'Couldn’t load newer messages — retry',
  notFound: 'That message is no longer here (it may have been deleted).',
});
