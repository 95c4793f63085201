/* global document, fetch */
// The business app's copilot widget: plain browser JavaScript over the client SDK.
import { AiFactoryClient } from '/sdk/index.js';

const config = await (await fetch('/config.json')).json();
const client = new AiFactoryClient({ baseUrl: config.apiUrl, token: config.token });
const chat = client.chat(config.agent);
const form = document.getElementById('ask');
const input = document.getElementById('message');
const answer = document.getElementById('answer');
const status = document.getElementById('status');
const actions = document.getElementById('actions');

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

const handlers = {
  onToken: (text) => {
    answer.textContent += text;
  },
  onEvent: (event) => {
    if (event.type === 'action.decided') {
      const item = document.createElement('li');
      item.textContent = `${event.kind} ${event.name}: ${event.authority}`;
      actions.append(item);
    }
    if (event.type === 'approval.applied') setStatus('running', `Approval ${event.approvalId}: ${event.outcome}. Continuing…`);
  },
};

async function show(reply) {
  if (reply.status === 'completed') {
    answer.textContent = reply.answer;
    setStatus('completed', 'Done.');
  } else if (reply.status === 'failed') {
    setStatus('failed', `Failed: ${reply.error}`);
  } else {
    answer.textContent = '';
    setStatus('held', `Waiting for a support lead to approve (${reply.held.approvalId}).`);
    const approval = await chat.status(reply);
    status.dataset.approvalStatus = approval.status;
    show(await chat.waitForDecision(reply, handlers));
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  answer.textContent = '';
  actions.replaceChildren();
  setStatus('running', 'Thinking…');
  try {
    await show(await chat.send(input.value, handlers));
  } catch (error) {
    setStatus('failed', `Failed: ${error.message}`);
  }
});
