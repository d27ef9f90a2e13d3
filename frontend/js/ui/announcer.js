// The screen reader's line for a message arriving in the room on screen (the #announcer live
// region): who and what, the newest five kept.
import { $ } from './dom.js';
import { shownName } from './avatar.js';

export function announce(m) {
  const box = $('announcer');
  const line = document.createElement('p');
  // A message of files alone is read out by its file names.
  const files = (m.attachments ?? []).map((a) => a.name).join(', ');
  line.textContent = `${shownName(m.user.id, m.user.name)}: ${m.text || (files ? `📎 ${files}` : '')}`;
  box.appendChild(line);
  while (box.childElementCount > 5) box.firstElementChild.remove();
}
