// The encore chat page: sends what the user types to POST /skill as a Kakao skill payload
// and draws the Kakao JSON answer (response format 2.0) the way KakaoTalk shows it.
// Everything from the server is put in the page as text (textContent) or as checked
// http(s) URLs, never as HTML.
'use strict';

const STORAGE_USER_ID = 'encore.userId';
const STORAGE_SECRET = 'encore.skillSecret';
const SECRET_HEADER = 'X-Encore-Skill-Secret';
const REQUEST_TIMEOUT_MS = 30000;
const WAITING_TEXT = '찾는 중…';
const BOT_NAME = 'encore';
const AVATAR_URL = '/assets/avatar.svg';
const WELCOME = {
  version: '2.0',
  template: {
    outputs: [{
      simpleText: {
        text: '안녕하세요! 좋아하는 아티스트 이름을 보내 주세요.\n'
          + '인기 곡과 비슷한 아티스트를 카드로 알려 드려요. (예: BTS, 아이유, NewJeans)',
      },
    }],
  },
};

const messages = document.getElementById('messages');
const composer = document.getElementById('composer');
const input = document.getElementById('utterance');
const sendButton = document.getElementById('send');
const settings = document.getElementById('settings');
const settingsToggle = document.getElementById('settings-toggle');
const secretInput = document.getElementById('secret');
const settingsNote = document.getElementById('settings-note');

let waiting = false;
let answerCount = 0;

// localStorage may be unavailable (private windows, disabled storage): fall back to memory.
const memoryStore = new Map();
function load(key) {
  try { return window.localStorage.getItem(key); } catch { return memoryStore.get(key) ?? null; }
}
function save(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key); else window.localStorage.setItem(key, value);
  } catch {
    if (value === null) memoryStore.delete(key); else memoryStore.set(key, value);
  }
}

/** This browser's user id: random, made once, kept in localStorage (Kakao's botUserKey). */
function userId() {
  let id = load(STORAGE_USER_ID);
  if (!id || !/^[0-9a-f]{64}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    save(STORAGE_USER_ID, id);
  }
  return id;
}

/** A skill request shaped like the one Kakao i Open Builder sends. */
function skillPayload(utterance, clientExtra) {
  const block = { id: 'encore-web', name: 'artist' };
  return {
    intent: { id: block.id, name: block.name },
    userRequest: {
      timezone: 'Asia/Seoul',
      params: { surface: 'encore.web' },
      block,
      utterance,
      lang: 'ko',
      user: { id: userId(), type: 'botUserKey', properties: {} },
    },
    bot: { id: 'encore-local', name: BOT_NAME },
    action: {
      id: 'encore-web',
      name: 'encore-chat',
      params: {},
      detailParams: {},
      clientExtra: clientExtra ?? null,
    },
    contexts: [],
  };
}

// ---- small DOM helpers -------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function str(value) {
  return typeof value === 'string' ? value : '';
}

/** `url` as an absolute http(s) URL, or null for anything else (javascript:, data:, junk). */
function safeUrl(url) {
  if (typeof url !== 'string' || url.trim() === '') return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function externalLink(href, className) {
  const a = el('a', className);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function picture(url, className, alt) {
  const src = safeUrl(url);
  if (!src) return null;
  const img = el('img', className);
  img.alt = str(alt);
  img.loading = 'lazy';
  img.decoding = 'async';
  img.referrerPolicy = 'no-referrer';
  img.addEventListener('error', () => img.classList.add('broken'), { once: true });
  img.src = src;
  return img;
}

function clock(date = new Date()) {
  return new Intl.DateTimeFormat('ko-KR', { hour: 'numeric', minute: '2-digit' }).format(date);
}

function scrollToEnd() {
  messages.scrollTop = messages.scrollHeight;
}

// ---- turns ---------------------------------------------------------------------------

function addUserTurn(text) {
  const turn = el('div', 'turn user');
  const line = el('div', 'line');
  line.append(el('div', 'bubble', text), el('time', 'time', clock()));
  turn.append(line);
  messages.append(turn);
  scrollToEnd();
}

/** A bot turn (avatar, name, a column of outputs); returns the column to fill. */
function addBotTurn() {
  const turn = el('div', 'turn bot');
  const avatar = el('img', 'avatar');
  avatar.src = AVATAR_URL;
  avatar.alt = '';
  const column = el('div', 'column');
  column.append(el('div', 'name', BOT_NAME));
  turn.append(avatar, column);
  messages.append(turn);
  return { turn, column };
}

function addLine(column, node) {
  const line = el('div', 'line');
  line.append(node);
  column.append(line);
  return line;
}

function addTyping() {
  const { turn, column } = addBotTurn();
  turn.classList.add('typing');
  const dots = el('div', 'bubble dots');
  dots.setAttribute('aria-label', '입력 중');
  dots.append(el('span'), el('span'), el('span'));
  addLine(column, dots);
  scrollToEnd();
  return turn;
}

function addError(message) {
  const { turn, column } = addBotTurn();
  turn.dataset.answer = String(++answerCount);
  addLine(column, el('div', 'bubble error', message)).append(el('time', 'time', clock()));
  scrollToEnd();
}

// ---- Kakao components ----------------------------------------------------------------

function simpleText(component) {
  return el('div', 'bubble text', str(component.text));
}

function simpleImage(component) {
  const img = picture(component.imageUrl, 'simple-image', component.altText);
  if (!img) return unsupported('simpleImage');
  const bubble = el('div', 'bubble image');
  bubble.append(img);
  return bubble;
}

function button(spec, className) {
  const label = str(spec.label);
  switch (spec.action) {
    case 'webLink': {
      const href = safeUrl(spec.webLinkUrl);
      if (href) {
        const a = externalLink(href, className);
        a.textContent = label;
        return a;
      }
      break;
    }
    case 'phone': {
      const number = str(spec.phoneNumber);
      if (/^[0-9+\-() ]+$/.test(number)) {
        const a = el('a', className, label);
        a.href = `tel:${number.replace(/[^0-9+]/g, '')}`;
        return a;
      }
      break;
    }
    case 'message':
    case 'block':
      return actionButton(className, label, str(spec.messageText) || label, spec.extra);
    default:
      break;
  }
  const inert = el('button', className, label);
  inert.type = 'button';
  inert.disabled = true;
  inert.title = '이 페이지에서는 쓸 수 없는 버튼이에요';
  return inert;
}

function actionButton(className, label, utterance, extra) {
  const b = el('button', className, label);
  b.type = 'button';
  b.addEventListener('click', () => ask(utterance, extra));
  return b;
}

function buttonRow(buttons, layout) {
  if (!Array.isArray(buttons) || buttons.length === 0) return null;
  const row = el('div', layout === 'vertical' ? 'card-buttons vertical' : 'card-buttons');
  for (const spec of buttons) row.append(button(spec, 'card-button'));
  return row;
}

function listCard(card) {
  const node = el('div', 'card list-card');
  const header = card.header && str(card.header.title);
  if (header) node.append(el('div', 'card-header', header));
  const rows = el('div', 'list-rows');
  for (const item of Array.isArray(card.items) ? card.items : []) rows.append(listRow(item));
  node.append(rows);
  const buttons = buttonRow(card.buttons, card.buttonLayout);
  if (buttons) node.append(buttons);
  return node;
}

function listRow(item) {
  const link = item.link || {};
  const href = safeUrl(link.web) || safeUrl(link.mobile) || safeUrl(link.pc);
  let row;
  if (href) {
    row = externalLink(href, 'list-row');
  } else if (item.action === 'message' || item.action === 'block') {
    row = actionButton('list-row', '', str(item.messageText) || str(item.title), item.extra);
  } else {
    row = el('div', 'list-row');
  }
  const text = el('div', 'list-text');
  text.append(el('div', 'list-title', str(item.title)));
  if (str(item.description)) text.append(el('div', 'list-description', item.description));
  row.append(text);
  const img = picture(item.imageUrl, 'list-image', '');
  if (img) row.append(img);
  return row;
}

function basicCard(card) {
  const node = el('div', 'card basic-card');
  const thumbnail = card.thumbnail || {};
  const img = picture(thumbnail.imageUrl, thumbnail.fixedRatio ? 'thumb square' : 'thumb', thumbnail.altText);
  if (img) {
    const href = safeUrl((thumbnail.link || {}).web);
    if (href) {
      const a = externalLink(href, 'thumb-link');
      a.append(img);
      node.append(a);
    } else {
      node.append(img);
    }
  }
  node.append(cardBody(card));
  const buttons = buttonRow(card.buttons, card.buttonLayout);
  if (buttons) node.append(buttons);
  return node;
}

function textCard(card) {
  const node = el('div', 'card text-card');
  node.append(cardBody(card));
  const buttons = buttonRow(card.buttons, card.buttonLayout);
  if (buttons) node.append(buttons);
  return node;
}

function cardBody(card) {
  const body = el('div', 'card-body');
  if (str(card.title)) body.append(el('div', 'card-title', card.title));
  if (str(card.description)) body.append(el('div', 'card-description', card.description));
  return body;
}

const CARDS = { listCard, basicCard, textCard };

function carousel(component) {
  const draw = CARDS[component.type];
  if (!draw) return unsupported(`carousel ${str(component.type)}`);
  const strip = el('div', 'carousel');
  for (const item of Array.isArray(component.items) ? component.items : []) strip.append(draw(item));
  return strip;
}

function unsupported(kind) {
  return el('div', 'bubble note', `이 페이지가 아직 그리지 못하는 형식이에요: ${kind}`);
}

const OUTPUTS = {
  simpleText,
  simpleImage,
  listCard,
  basicCard,
  textCard,
  carousel,
};

function output(component) {
  const kind = Object.keys(component || {})[0];
  const draw = OUTPUTS[kind];
  return draw ? draw(component[kind] || {}) : unsupported(String(kind));
}

function quickReplies(replies) {
  if (!Array.isArray(replies) || replies.length === 0) return;
  const row = el('div', 'quick-replies');
  for (const reply of replies) {
    const label = str(reply.label);
    row.append(actionButton('chip', label, str(reply.messageText) || label, reply.extra));
  }
  messages.append(row);
}

/** Draws one skill answer as a bot turn (and its quick replies under it). */
function renderAnswer(answer, counted = true) {
  const { turn, column } = addBotTurn();
  if (counted) turn.dataset.answer = String(++answerCount);
  let last = null;
  if (answer && answer.useCallback === true) {
    last = addLine(column, el('div', 'bubble text waiting', `${WAITING_TEXT}\n잠시 후 다시 물어봐 주세요.`));
  } else {
    const outputs = answer && answer.template && Array.isArray(answer.template.outputs)
      ? answer.template.outputs : [];
    if (outputs.length === 0) last = addLine(column, el('div', 'bubble error', '빈 답이 왔어요'));
    for (const component of outputs) last = addLine(column, output(component));
  }
  if (last && !last.querySelector('.carousel')) last.append(el('time', 'time', clock()));
  quickReplies(answer && answer.template && answer.template.quickReplies);
  scrollToEnd();
}

// ---- sending ---------------------------------------------------------------------------

async function ask(text, clientExtra) {
  const utterance = str(text).trim();
  if (!utterance || waiting) return;
  waiting = true;
  updateSendButton();
  for (const row of messages.querySelectorAll('.quick-replies')) row.remove();
  addUserTurn(utterance);
  const typing = addTyping();
  const headers = { 'Content-Type': 'application/json;charset=UTF-8' };
  const secret = load(STORAGE_SECRET);
  if (secret) headers[SECRET_HEADER] = secret;
  try {
    const response = await fetch('/skill', {
      method: 'POST',
      headers,
      body: JSON.stringify(skillPayload(utterance, clientExtra)),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    typing.remove();
    if (!response.ok) {
      addError(`답을 받지 못했어요 (HTTP ${response.status})`);
    } else {
      renderAnswer(await response.json());
    }
  } catch (error) {
    typing.remove();
    addError(error && error.name === 'TimeoutError'
      ? '서버가 제때 답하지 않았어요'
      : '서버에 연결하지 못했어요');
  } finally {
    waiting = false;
    updateSendButton();
  }
}

function updateSendButton() {
  sendButton.disabled = waiting || input.value.trim() === '';
}

function resizeInput() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
}

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  if (waiting || text.trim() === '') return;
  input.value = '';
  resizeInput();
  ask(text);
});

input.addEventListener('input', () => {
  updateSendButton();
  resizeInput();
});

input.addEventListener('keydown', (event) => {
  // Enter sends, Shift+Enter breaks the line; never while a Hangul syllable is composing.
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

settingsToggle.addEventListener('click', () => {
  const open = settings.hidden;
  settings.hidden = !open;
  settingsToggle.setAttribute('aria-expanded', String(open));
  if (open) {
    secretInput.value = load(STORAGE_SECRET) || '';
    settingsNote.textContent = '';
    secretInput.focus();
  }
});

settings.addEventListener('submit', (event) => {
  event.preventDefault();
  const secret = secretInput.value.trim();
  save(STORAGE_SECRET, secret === '' ? null : secret);
  settingsNote.textContent = secret === '' ? '시크릿을 지웠어요' : '저장했어요';
});

document.getElementById('today').textContent =
  new Intl.DateTimeFormat('ko-KR', { dateStyle: 'full' }).format(new Date());
renderAnswer(WELCOME, false);
input.focus();
