// The dialogs for rooms with members (index.html <dialog>s, modal: focus stays inside, Escape
// cancels): create a room (public by name or private by title, optional topic), change the
// topic, start a group conversation (2–9 people) and invite people to a room — the last two with
// the people picker. A refusal is shown inside the dialog, which stays open to fix it.
import { $, setText } from './dom.js';
import { createPeoplePicker } from './people-picker.js';
import { restErrorText } from '../room-actions.js';
import { roomNameProblem } from '../rooms.js';
import { roomName } from './room-label.js';
import { STRINGS } from '../strings.js';
import { toast } from './toast.js';

const GROUP_MIN_OTHERS = 2;
const GROUP_MAX_OTHERS = 9;
const INVITE_MAX = 20;
const MAX_TOPIC = 250;

/** Opens `dialog` modally; `done()` closes it and gives focus back to where it was. */
function modal(dialog, first) {
  const returnTo = document.activeElement;
  dialog.showModal();
  if (first) first.focus();
  return () => {
    if (dialog.open) dialog.close();
    if (returnTo && returnTo.isConnected && typeof returnTo.focus === 'function') returnTo.focus();
  };
}

/** Disables the form's buttons while a request runs. */
async function busy(form, run) {
  const buttons = [...form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  try {
    return await run();
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

export function mountRoomDialogs({ store, api, actions }) {
  // --- create a room -------------------------------------------------------------------------
  const roomDialog = $('room-dialog');
  const roomForm = $('room-form');
  const roomError = $('room-dialog-error');
  let closeRoom = () => {};
  const kindOf = () => roomForm.querySelector('input[name="room-kind"]:checked').value;
  function showKind() {
    const priv = kindOf() === 'private';
    $('room-name-field').hidden = priv;
    $('room-title-field').hidden = !priv;
  }
  for (const radio of roomForm.querySelectorAll('input[name="room-kind"]')) radio.addEventListener('change', showKind);
  $('room-dialog-cancel').addEventListener('click', () => closeRoom());
  roomForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kind = kindOf();
    const topic = $('room-topic').value.trim();
    const body = { kind };
    if (kind === 'public') {
      const name = $('room-name').value.trim().replace(/^#/, '').toLowerCase();
      const problem = roomNameProblem(name);
      if (problem) return fail(roomError, problem, $('room-name'));
      body.name = name;
    } else {
      const title = $('room-title-input').value.trim();
      if (!title) return fail(roomError, STRINGS.rooms.titleNeeded, $('room-title-input'));
      body.title = title;
    }
    if (topic.length > MAX_TOPIC) return fail(roomError, STRINGS.rooms.topicTooLong, $('room-topic'));
    if (topic) body.topic = topic;
    await busy(roomForm, async () => {
      try {
        await actions.create(body);
        closeRoom();
      } catch (err) {
        fail(roomError, restErrorText(err));
      }
    });
  });

  // --- the topic ------------------------------------------------------------------------------
  const topicDialog = $('topic-dialog');
  const topicForm = $('topic-form');
  const topicInput = $('topic-input');
  let topicRoom = null;
  let closeTopic = () => {};
  $('topic-cancel').addEventListener('click', () => closeTopic());
  topicForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const topic = topicInput.value.trim();
    if (topic.length > MAX_TOPIC) return fail($('topic-error'), STRINGS.rooms.topicTooLong, topicInput);
    await busy(topicForm, async () => {
      try {
        await actions.setTopic(topicRoom, topic);
        closeTopic();
      } catch (err) {
        fail($('topic-error'), restErrorText(err));
      }
    });
  });

  // --- people: a group, or invitations ------------------------------------------------------------
  const peopleDialog = $('people-dialog');
  const peopleForm = $('people-form');
  const peopleError = $('people-error');
  let mode = null; // { kind: 'group' } | { kind: 'invite', room }
  let closePeople = () => {};
  const picker = createPeoplePicker({
    api,
    input: $('people-input'),
    results: $('people-results'),
    chosenList: $('people-chosen'),
    max: () => (mode && mode.kind === 'group' ? GROUP_MAX_OTHERS : INVITE_MAX),
    excluded: () => {
      const ids = new Set(store.state.me ? [store.state.me.id] : []);
      const r = mode && mode.kind === 'invite' ? store.state.rooms.get(mode.room) : null;
      if (r && r.roster) for (const id of r.roster.keys()) ids.add(id);
      return ids;
    },
    onChange: () => setText(peopleError, ''),
  });
  $('people-cancel').addEventListener('click', () => closePeople());
  peopleForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const people = picker.chosen();
    if (mode.kind === 'group') {
      if (people.length < GROUP_MIN_OTHERS || people.length > GROUP_MAX_OTHERS) return fail(peopleError, STRINGS.rooms.groupNeeds, $('people-input'));
      await busy(peopleForm, async () => {
        try {
          await actions.create({ kind: 'group', members: people.map((u) => u.id) });
          closePeople();
        } catch (err) {
          fail(peopleError, restErrorText(err));
        }
      });
      return;
    }
    if (people.length === 0) return fail(peopleError, STRINGS.rooms.inviteNeeds, $('people-input'));
    await busy(peopleForm, async () => {
      try {
        const names = await actions.invite(mode.room, people);
        closePeople();
        toast(STRINGS.rooms.invited(names.join(', ')));
      } catch (err) {
        fail(peopleError, restErrorText(err));
      }
    });
  });

  function openPeople(next, title, help, ok) {
    mode = next;
    picker.reset();
    setText($('people-dialog-title'), title);
    setText($('people-dialog-help'), help);
    setText($('people-ok'), ok);
    setText(peopleError, '');
    closePeople = modal(peopleDialog, $('people-input'));
  }

  return {
    openCreate() {
      roomForm.reset();
      showKind();
      setText(roomError, '');
      closeRoom = modal(roomDialog, $('room-name'));
    },
    openTopic(room) {
      const r = store.state.rooms.get(room);
      if (!r) return;
      topicRoom = room;
      topicInput.value = r.topic || '';
      setText($('topic-error'), '');
      closeTopic = modal(topicDialog, topicInput);
    },
    openGroup() {
      openPeople({ kind: 'group' }, STRINGS.rooms.newGroup, STRINGS.rooms.groupNeeds, STRINGS.people.startGroup);
    },
    openInvite(room) {
      openPeople({ kind: 'invite', room }, `${STRINGS.people.invite}: ${roomName(store, room)}`, '', STRINGS.people.inviteOk);
    },
  };
}

function fail(errorEl, text, field = null) {
  setText(errorEl, text);
  if (field) field.focus();
}
