// Demo page of the image classification API: plain ES2020, no build step, no dependencies.
// Everything it loads comes from this server (see the Content-Security-Policy of GET /):
// thumbnails are object URLs of the chosen files, and widths are set through the CSSOM
// (element.style.width), never with style attributes.

const TOP_K = 5;
const PREDICT_URL = '/v1/predict';
const MODELS_URL = '/v1/models';
/** Where the API key lives: sessionStorage, so it stays with this tab and goes when the tab closes. */
const API_KEY_STORAGE = 'image-classifier.api-key';

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}.`);
  return element;
};

const ui = {
  fileInput: $('file-input'),
  dropzone: $('dropzone'),
  urlForm: $('url-form'),
  urlInput: $('url-input'),
  classifyButton: $('classify-button'),
  status: $('status'),
  alert: $('alert'),
  results: $('results'),
  resultsEmpty: $('results-empty'),
  clearButton: $('clear-button'),
  modelInfo: $('model-info'),
  keyDialog: $('key-dialog'),
  keyForm: $('key-form'),
  keyInput: $('key-input'),
  keyError: $('key-error'),
  keyCancel: $('key-cancel'),
};

let busy = false;
/** Object URLs of the thumbnails on show, revoked when the results are replaced. */
let objectUrls = [];

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

/** An element with a class, text and attributes (never a style attribute: the CSP forbids it). */
function h(tag, { className, text, attrs } = {}, children = []) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  if (attrs) for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  element.append(...children.filter(Boolean));
  return element;
}

const ICONS = {
  image: ['M4 5h16v14H4z', 'M4 16l4.5-4.5 3.5 3.5 2.5-2.5L20 18', 'M15.5 9.5a1.5 1.5 0 1 0 0-.01'],
  link: [
    'M10 14a4 4 0 0 0 5.66 0l3-3a4 4 0 0 0-5.66-5.66l-1 1',
    'M14 10a4 4 0 0 0-5.66 0l-3 3a4 4 0 0 0 5.66 5.66l1-1',
  ],
  alert: ['M12 3l9.5 17h-19z', 'M12 10v4.5', 'M12 17.5v.01'],
};

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ICONS[name]) {
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', 'currentColor');
    path.setAttribute('stroke-width', '1.7');
    path.setAttribute('stroke-linecap', 'round');
    path.setAttribute('stroke-linejoin', 'round');
    svg.append(path);
  }
  return svg;
}

/** Class names come with underscores from the class index: `Egyptian_cat` reads as "Egyptian cat". */
const displayName = (name) => String(name).replace(/_/g, ' ');
const percent = (score) => `${(score * 100).toFixed(1)}%`;
const plural = (count, word) => `${count} ${word}${count === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Status, busy state and errors

function setStatus(text, { spinning = false } = {}) {
  ui.status.replaceChildren(
    ...(spinning ? [h('span', { className: 'spinner', attrs: { 'aria-hidden': 'true' } })] : []),
    text,
  );
}

function setBusy(isBusy) {
  busy = isBusy;
  ui.fileInput.disabled = isBusy;
  ui.dropzone.setAttribute('aria-disabled', String(isBusy));
  // aria-disabled rather than disabled: a focused button keeps its focus while the request runs.
  ui.classifyButton.setAttribute('aria-disabled', String(isBusy));
  ui.classifyButton.replaceChildren(
    ...(isBusy
      ? [h('span', { className: 'spinner', attrs: { 'aria-hidden': 'true' } }), 'Classifying…']
      : ['Classify']),
  );
  ui.results.setAttribute('aria-busy', String(isBusy));
}

/** Shows an error in plain words: a title, an optional sentence and an optional list of details. */
function showAlert({ title, text, details = [] }) {
  ui.alert.replaceChildren(
    h('div', { className: 'alert' }, [
      h('p', { className: 'alert-title', text: title }),
      text ? h('p', { className: 'alert-text', text }) : null,
      details.length
        ? h(
            'ul',
            { className: 'alert-list' },
            details.map((detail) => h('li', { text: detail })),
          )
        : null,
    ]),
  );
}

const clearAlert = () => ui.alert.replaceChildren();

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or undefined. */
function retryAfterSeconds(response) {
  const value = response.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
  return Number.isFinite(seconds) ? Math.max(1, seconds) : undefined;
}

const retryText = (seconds) => (seconds ? `Try again in ${plural(seconds, 'second')}.` : 'Try again in a moment.');

/**
 * An API error in plain words. Returns the alert to show and, for errors about single images,
 * their messages by index (`errors[].index` is the image's position in the request).
 */
function describeError(response, body, count) {
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  if (!body || typeof body !== 'object' || typeof body.message !== 'string') {
    return {
      alert: {
        title: 'The service gave an unexpected answer.',
        text: `It answered with ${status} instead of results. Try again in a moment.`,
      },
      byIndex: new Map(),
    };
  }
  const entries = Array.isArray(body.errors)
    ? body.errors.filter((entry) => entry && typeof entry.message === 'string')
    : [];
  const byIndex = new Map();
  const general = [];
  for (const entry of entries) {
    // Schema errors name fields (images[0].data): about an image, say so plainly.
    const message = entry.code?.startsWith('FIELD_') ? 'The service could not accept this image.' : entry.message;
    if (Number.isInteger(entry.index) && entry.index >= 0 && entry.index < count)
      byIndex.set(entry.index, (byIndex.get(entry.index) ?? []).concat(message));
    else general.push(entry.field ? `${entry.field}: ${entry.message}` : entry.message);
  }
  const seconds = retryAfterSeconds(response);
  const alerts = {
    IMAGES_REJECTED: {
      title:
        count === 1
          ? 'The image could not be classified.'
          : `${byIndex.size === 1 ? 'An image' : 'Some images'} could not be classified, so none of the ${count} were.`,
      text: count === 1 ? '' : 'Remove or replace the images named below and try again.',
    },
    REQUEST_BODY_TOO_LARGE: {
      title: 'The images are too large to send at once.',
      text: 'Choose fewer or smaller images and try again.',
    },
    REQUEST_TOO_MANY_IMAGES: {
      title: 'Too many images at once.',
      text: `${body.message} Choose fewer images and try again.`,
    },
    REQUEST_INVALID: { title: 'The service could not accept these images.', text: body.message },
    AUTH_REQUIRED: { title: 'This service needs an API key.', text: 'Classify again to enter one.' },
    AUTH_INVALID: { title: 'The API key was not accepted.', text: 'Classify again to enter another one.' },
    SERVICE_NOT_READY: { title: 'The model is still loading.', text: retryText(seconds) },
    SERVICE_OVERLOADED: { title: 'The service is busy with other images.', text: retryText(seconds) },
    SERVICE_SHUTTING_DOWN: { title: 'The service is restarting.', text: retryText(seconds) },
    SERVICE_INFERENCE_FAILED: { title: 'The classifier failed on these images.', text: retryText(seconds) },
    INTERNAL_ERROR: {
      title: 'Something went wrong in the service.',
      text: 'Try again; if it keeps happening, tell the people who run it.',
    },
  };
  const alert = alerts[body.code] ?? {
    title: 'The images could not be classified.',
    text: `${body.message} (${status})`,
  };
  return { alert: { ...alert, details: general }, byIndex };
}

// ---------------------------------------------------------------------------------------------
// The API key: asked for when the API answers 401, kept for this tab only (sessionStorage, never
// localStorage), and sent as Authorization: Bearer.

/** The key when sessionStorage is unavailable (storage blocked): this page's life only. */
let keyInMemory = '';

function storedKey() {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  } catch {
    return keyInMemory;
  }
}

function storeKey(key) {
  keyInMemory = key;
  try {
    if (key) sessionStorage.setItem(API_KEY_STORAGE, key);
    else sessionStorage.removeItem(API_KEY_STORAGE);
  } catch {
    // Storage blocked: the key stays in memory.
  }
}

/** A key can only travel in a header as printable ASCII. */
function checkKey(key) {
  if (!key) return 'Enter the API key.';
  if (!/^[\x21-\x7e]+$/.test(key)) return 'An API key has letters, digits and symbols only, without spaces.';
  return '';
}

/** The open prompt, shared by requests refused at the same time, and what settles it. */
let keyPrompt;
let settleKeyPrompt;
/** The key entered in the dialog, once submitted; empty when the dialog is cancelled. */
let enteredKey = '';

/** Asks for a key in a modal dialog (with why, when a key was refused). Resolves with it, or '' when cancelled. */
function promptForKey(problem = '') {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    settleKeyPrompt = resolve;
  });
  enteredKey = '';
  ui.keyInput.value = '';
  showKeyProblem(problem);
  ui.keyDialog.showModal();
  ui.keyInput.focus();
  return keyPrompt;
}

function showKeyProblem(problem) {
  ui.keyError.textContent = problem;
  if (problem) ui.keyInput.setAttribute('aria-invalid', 'true');
  else ui.keyInput.removeAttribute('aria-invalid');
}

ui.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  const problem = checkKey(key);
  if (problem) {
    showKeyProblem(problem);
    ui.keyInput.focus();
    return;
  }
  enteredKey = key;
  ui.keyDialog.close();
});
ui.keyCancel.addEventListener('click', () => ui.keyDialog.close());
ui.keyInput.addEventListener('input', () => ui.keyInput.removeAttribute('aria-invalid'));
// Submit, Cancel and Escape all end here; the browser gives focus back to where it was.
ui.keyDialog.addEventListener('close', () => {
  const settle = settleKeyPrompt;
  const key = enteredKey;
  keyPrompt = settleKeyPrompt = undefined;
  enteredKey = '';
  ui.keyInput.value = '';
  settle?.(key);
});

/** Whether the footer is waiting for a key to show the model. */
let modelInfoNeedsKey = false;

/**
 * fetch() for the API, with the tab's key when it has one. On 401, unless `askForKey` is false, asks
 * for a key (saying why, when the one sent was refused) and tries again; resolves with the response
 * to the last try, which is the 401 when the dialog was cancelled.
 */
async function apiFetch(url, init = {}, { askForKey = true } = {}) {
  for (;;) {
    const key = storedKey();
    const headers = { ...init.headers, ...(key ? { authorization: `Bearer ${key}` } : {}) };
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401) {
      if (key && modelInfoNeedsKey && url !== MODELS_URL) showModelInfo();
      return response;
    }
    if (!askForKey) return response;
    let problem = '';
    if (key) {
      // The key was refused: forget it, and say so with the service's own words.
      storeKey('');
      const body = await response
        .clone()
        .json()
        .catch(() => undefined);
      problem = typeof body?.message === 'string' ? body.message : 'The API key is not valid.';
      problem += ' Check it and enter it again.';
    }
    const entered = await promptForKey(problem);
    if (!entered) return response;
    storeKey(entered);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the images and calling the API

/** A file in base64, without the "data:…;base64," prefix of its data URL. */
function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const dataUrl = String(reader.result);
      resolve(dataUrl.slice(dataUrl.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error(`Could not read ${file.name}.`));
    reader.readAsDataURL(file);
  });
}

async function postPredict(images, count) {
  let response;
  try {
    response = await apiFetch(PREDICT_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ images, top_k: TOP_K }),
    });
  } catch {
    return {
      ok: false,
      alert: { title: 'Could not reach the service.', text: 'Check your connection, then try again.' },
      byIndex: new Map(),
    };
  }
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.ok && body && Array.isArray(body.images) && body.images.length === count)
    return { ok: true, images: body.images };
  if (response.ok)
    return {
      ok: false,
      alert: {
        title: 'The service gave an unexpected answer.',
        text: 'Its results did not match the images sent. Try again.',
      },
      byIndex: new Map(),
    };
  return { ok: false, ...describeError(response, body, count) };
}

/** Classifies files or a URL in one request, and shows the outcome. Ignored while a request runs. */
async function classify(items) {
  if (busy || items.length === 0) return;
  setBusy(true);
  clearAlert();
  clearResults();
  objectUrls = items.map((item) => item.thumbnail).filter(Boolean);
  try {
    // The service would refuse the whole request for an empty file: say so without asking it.
    const empty = new Map(
      items.flatMap((item, i) => (item.file && item.file.size === 0 ? [[i, ['The file is empty.']]] : [])),
    );
    if (empty.size) {
      setStatus('');
      showError(
        {
          title:
            empty.size === items.length
              ? 'There is nothing to classify.'
              : 'Some files are empty, so nothing was sent.',
          byIndex: empty,
        },
        items,
      );
      return;
    }
    setStatus(`Reading ${plural(items.length, 'image')}…`, { spinning: true });
    let images;
    try {
      images = await Promise.all(
        items.map(async (item) => (item.file ? { data: await readAsBase64(item.file) } : { url: item.url })),
      );
    } catch {
      setStatus('');
      showAlert({ title: 'The browser could not read the chosen files.', text: 'Choose them again and retry.' });
      return;
    }
    setStatus(`Classifying ${plural(items.length, 'image')}…`, { spinning: true });
    const outcome = await postPredict(images, items.length);
    if (outcome.ok) {
      renderCards(items.map((item, i) => predictionCard(item, outcome.images[i], i)));
      setStatus(`Classified ${plural(items.length, 'image')}.`);
      return;
    }
    setStatus('');
    showError({ ...outcome.alert, byIndex: outcome.byIndex }, items);
  } finally {
    setBusy(false);
  }
}

/**
 * An error in the alert region, each failing image named ("cat.txt: The bytes are not an image."), and a card per image
 * when some failed.
 */
function showError({ title, text, details = [], byIndex }, items) {
  const perImage = items.flatMap((item, i) => (byIndex.get(i) ?? []).map((message) => `${item.label}: ${message}`));
  showAlert({ title, text, details: perImage.concat(details) });
  if (byIndex.size) renderCards(items.map((item, i) => errorCard(item, byIndex.get(i), i)));
}

const fileItems = (files) =>
  Array.from(files, (file, i) => ({
    label: file.name || `Image ${i + 1}`,
    file,
    thumbnail: URL.createObjectURL(file),
  }));

// ---------------------------------------------------------------------------------------------
// Results

function clearResults() {
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls = [];
  ui.results.replaceChildren();
  ui.resultsEmpty.hidden = false;
  ui.clearButton.hidden = true;
}

function renderCards(cards) {
  ui.results.replaceChildren(...cards);
  ui.resultsEmpty.hidden = cards.length > 0;
  ui.clearButton.hidden = cards.length === 0;
}

/** The card's picture: the file's thumbnail, or a placeholder (the CSP blocks images from other sites). */
function media(item) {
  const placeholder = (name, caption) =>
    h('div', { className: 'card-media' }, [icon(name), h('span', { className: 'media-caption', text: caption })]);
  if (!item.thumbnail) {
    let host = item.url;
    try {
      host = new URL(item.url).host;
    } catch {
      // Keep the URL as typed.
    }
    return placeholder('link', host);
  }
  const image = h('img', { attrs: { src: item.thumbnail, alt: `Preview of ${item.label}`, decoding: 'async' } });
  const box = h('div', { className: 'card-media' }, [image]);
  image.addEventListener('error', () => box.replaceWith(placeholder('image', 'No preview')), { once: true });
  return box;
}

function cardShell(item, i, kind) {
  const titleId = `card-${i}-title`;
  return {
    titleId,
    card: h(
      'li',
      {
        className: `card${kind === 'error' ? ' is-error' : ''}`,
        attrs: { 'aria-labelledby': titleId, 'data-index': i },
      },
      [media(item)],
    ),
    title: h('h3', { className: 'card-source', text: item.label, attrs: { id: titleId, title: item.label } }),
  };
}

function predictionCard(item, result, i) {
  const { card, title } = cardShell(item, i, 'prediction');
  const predictions = Array.isArray(result.predictions) && result.predictions.length ? result.predictions : [result];
  const rows = predictions.map((prediction, rank) => {
    const bar = h('div', { className: 'bar' });
    // Through the CSSOM: the bar is exactly as wide, relative to its track, as the probability.
    bar.style.width = `${Math.min(100, Math.max(0, prediction.score * 100))}%`;
    return h(
      'li',
      {
        className: `prediction${rank === 0 ? ' is-top' : ''}`,
        attrs: { 'data-name': prediction.name, 'data-category': prediction.category, 'data-score': prediction.score },
      },
      [
        h('div', { className: 'prediction-text' }, [
          h('span', {
            className: 'label',
            text: displayName(prediction.name),
            attrs: { title: `${prediction.name} (${prediction.category})` },
          }),
          h('span', { className: 'pct', text: percent(prediction.score) }),
        ]),
        h('div', { className: 'track', attrs: { 'aria-hidden': 'true' } }, [bar]),
      ],
    );
  });
  const summary = h('p', { className: 'card-title' }, [
    h('span', { className: 'visually-hidden', text: 'Most likely: ' }),
    h('span', { className: 'top-name', text: displayName(result.name), attrs: { title: result.name } }),
    h('span', { className: 'visually-hidden', text: ', ' }),
    h('span', { className: 'top-score', text: percent(result.score) }),
  ]);
  const list = h(
    'ol',
    { className: 'predictions', attrs: { 'aria-label': `Top ${rows.length} classes for ${item.label}` } },
    rows,
  );
  card.append(h('div', { className: 'card-body' }, [title, summary, list]));
  return card;
}

function errorCard(item, messages, i) {
  const { card, title } = cardShell(item, i, messages ? 'error' : 'note');
  const body = messages
    ? h('p', { className: 'card-error' }, [icon('alert'), h('span', { text: messages.join(' ') })])
    : h('p', { className: 'card-note', text: 'Not classified: another image in the same request failed.' });
  card.append(h('div', { className: 'card-body' }, [title, body]));
  return card;
}

// ---------------------------------------------------------------------------------------------
// Inputs: file picker, drop zone (mouse, keyboard and drag and drop), pasted images, URL form

function openPicker() {
  if (!busy) ui.fileInput.click();
}

ui.fileInput.addEventListener('change', () => {
  const files = ui.fileInput.files;
  if (files?.length) classify(fileItems(files));
  // Lets the same files be chosen again.
  ui.fileInput.value = '';
});

ui.dropzone.addEventListener('click', openPicker);
ui.dropzone.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();
    if (!event.repeat) openPicker();
  }
});

// The whole window takes dropped files (and the browser never navigates to a dropped file).
const carriesFiles = (event) => Boolean(event.dataTransfer && Array.from(event.dataTransfer.types).includes('Files'));
let dragDepth = 0;
window.addEventListener('dragenter', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth += 1;
  ui.dropzone.classList.add('is-dragover');
});
window.addEventListener('dragover', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = busy ? 'none' : 'copy';
});
window.addEventListener('dragleave', (event) => {
  if (!carriesFiles(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.dropzone.classList.remove('is-dragover');
});
window.addEventListener('drop', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  ui.dropzone.classList.remove('is-dragover');
  if (busy) {
    setStatus('Still classifying the previous images; drop these again when it is done.');
    return;
  }
  const files = event.dataTransfer.files;
  if (files.length) classify(fileItems(files));
});

// Images pasted anywhere on the page (a screenshot, a copied file) are classified too.
document.addEventListener('paste', (event) => {
  const data = event.clipboardData;
  const files = data ? Array.from(data.files) : [];
  // Text pasted into the URL field stays text, even when the clipboard also holds the image.
  if (!files.length || (event.target === ui.urlInput && data.types.includes('text/plain'))) return;
  event.preventDefault();
  if (busy) setStatus('Still classifying the previous images; paste again when it is done.');
  else classify(fileItems(files));
});

function checkUrl(value) {
  if (!value) return 'Enter the address of an image, starting with http:// or https://.';
  let url;
  try {
    url = new URL(value);
  } catch {
    return `“${value}” is not a web address. Enter one starting with http:// or https://.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return 'Only http:// and https:// addresses can be classified.';
  return '';
}

ui.urlForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (busy) return;
  const value = ui.urlInput.value.trim();
  const problem = checkUrl(value);
  if (problem) {
    ui.urlInput.setAttribute('aria-invalid', 'true');
    showAlert({ title: 'Check the image URL.', text: problem });
    ui.urlInput.focus();
    return;
  }
  ui.urlInput.removeAttribute('aria-invalid');
  classify([{ label: value, url: value }]);
});

ui.urlInput.addEventListener('input', () => ui.urlInput.removeAttribute('aria-invalid'));

ui.clearButton.addEventListener('click', () => {
  clearResults();
  clearAlert();
  setStatus('Results cleared.');
  ui.dropzone.focus();
});

// ---------------------------------------------------------------------------------------------
// The model in the footer

async function showModelInfo(attempt = 0) {
  try {
    const response = await apiFetch(MODELS_URL, { headers: { accept: 'application/json' } }, { askForKey: false });
    // Not worth a dialog on its own: the footer waits for the key a classification asks for.
    modelInfoNeedsKey = response.status === 401;
    if (modelInfoNeedsKey) {
      ui.modelInfo.textContent = 'Model: shown once you enter an API key.';
      return;
    }
    if (response.status === 503 && attempt < 30) {
      ui.modelInfo.textContent = 'Model: loading…';
      setTimeout(() => showModelInfo(attempt + 1), (retryAfterSeconds(response) ?? 2) * 1000);
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const info = await response.json();
    const input = info.input ? ` · input ${info.input.width}×${info.input.height}` : '';
    const classes = Number(info.classes).toLocaleString('en');
    ui.modelInfo.textContent = `Model: ${info.name} · engine: ${info.engine} · ${classes} classes${input}`;
  } catch {
    ui.modelInfo.textContent = 'Model: information not available.';
  }
}

showModelInfo();
