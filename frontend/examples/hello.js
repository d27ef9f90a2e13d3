// A chat page in 30 lines with the SDK (served by the users service at /examples/hello.html):
// sign in, join #general, show messages as they arrive, send. README shows this file as it is.
import { createClient } from '/sdk/index.js';

const client = createClient(); // same origin: REST here, the chat replicas from /config.json
const $ = (id) => document.getElementById(id);
const show = (line) => {
  const li = document.createElement('li');
  li.textContent = line; // text, never HTML
  $('log').append(li);
};

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    await client.login(form.get('user'), form.get('password'));
  } catch (err) {
    return show(`sign-in failed: ${err.message}`);
  }
  client.on('message', (m) => show(`${m.user.name}: ${m.text}`));
  await client.join('general');
  $('login').hidden = true;
  $('say').hidden = false;
});

$('say').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = e.target.elements.text.value.trim();
  e.target.elements.text.value = '';
  if (text) client.send('general', text).catch((err) => show(`not sent: ${err.message}`));
});
