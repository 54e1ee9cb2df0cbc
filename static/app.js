// Switchboard chat page. All behaviour lives here (the CSP forbids inline
// script). Everything that comes from other people is put into the page with
// textContent / attributes, never innerHTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const me = $('me').textContent;
  const list = $('messages');
  const timeline = $('timeline');
  const userList = $('user-list');
  const conn = $('conn');
  const input = $('message-input');
  const messageForm = $('message-form');
  const uploadForm = $('upload-form');
  const uploadTo = $('upload-to');
  const uploadFile = $('upload-file');
  const progress = $('upload-progress');
  const notice = $('notice');
  const privateBox = $('private-target');
  const privateName = $('private-name');
  const privateGoneNote = $('private-gone');
  const baseTitle = document.title;
  const csrf = uploadForm.querySelector('input[name="csrf"]').value;

  let ws = null;
  let wsOpen = false;       // the WebSocket to the gateway is open
  let inRoom = false;       // the gateway says this session is in the room
  let ended = false;        // the session is over; go back to the join page
  let lastSeq = 0;          // largest timeline seq shown (dedup + resume)
  let failures = 0;         // consecutive failed connects (backoff)
  let unread = 0;
  let privateTo = null;
  let privateGone = false;  // privateTo left the room: refuse to send, never fall back
  let uploadGone = null;    // the upload recipient who left (kept selected, refused)
  let maxUpload = Infinity;
  let users = [];

  // ---- connection ----

  function showState() {
    const ok = wsOpen && inRoom;
    conn.textContent = ok ? 'connected' : 'reconnecting';
    conn.dataset.state = ok ? 'connected' : 'reconnecting';
  }

  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${proto}//${location.host}/ws?since=${lastSeq}`);
    ws = socket;
    socket.onopen = () => { wsOpen = true; failures = 0; showState(); };
    socket.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      handle(msg);
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      const wasOpen = wsOpen;
      wsOpen = false;
      inRoom = false;
      showState();
      if (ended) return;
      if (!wasOpen) failures += 1;
      const delay = Math.min(10000, 250 * 2 ** Math.min(failures, 6)) * (0.8 + Math.random() * 0.4);
      setTimeout(reconnect, delay);
    };
  }

  // A refused WebSocket looks like a network error: ask whether the session
  // still exists before trying again.
  async function reconnect() {
    if (failures > 0) {
      try {
        const r = await fetch('/api/session', { headers: { Accept: 'application/json' } });
        if (r.status === 401) { location.href = '/'; return; }
      } catch { /* the gateway itself is unreachable: keep trying */ }
    }
    connect();
  }

  function handle(msg) {
    switch (msg.type) {
      case 'hello':
        inRoom = msg.connected;
        maxUpload = msg.max_upload;
        input.maxLength = msg.max_message;
        setUsers(msg.users);
        showState();
        return;
      case 'users': setUsers(msg.users); return;
      case 'link': inRoom = msg.state === 'connected'; showState(); return;
      case 'notice': say(msg.text); return;
      case 'error': say(msg.message, true); return;
      case 'ended':
        ended = true;
        say(msg.reason, true);
        if (ws) ws.close();
        setTimeout(() => { location.href = '/'; }, 1500);
        return;
      default:
        if (typeof msg.seq !== 'number' || msg.seq <= lastSeq) return; // seen already
        lastSeq = msg.seq;
        if (msg.type === 'joined') addUser({ name: msg.name, kind: msg.kind });
        if (msg.type === 'left') removeUser(msg.name);
        addEntry(msg);
    }
  }

  // ---- the timeline ----

  // Bidi and other invisible format characters (protocol::is_invisible_format,
  // the rule the terminal client and file names use) and control characters
  // other than tab and newline are shown as <U+202E>, so "invoice\u202egnp.exe"
  // cannot pass for "invoiceexe.png". Joiners (U+200C, U+200D) stay: scripts
  // and emoji need them. The same rule as the server's pages
  // (web-gateway/src/visible.rs, whose test checks this line).
  const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/g;
  function visible(text) {
    return String(text).replace(INVISIBLE,
      (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The same format as the server's (protocol::human_size): one decimal.
  function humanSize(n) {
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024; let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
    return `${v.toFixed(1)} ${units[u]}`;
  }

  function addEntry(msg) {
    const kind = msg.type === 'file' ? (msg.inline ? 'image' : 'file') : msg.type;
    const isPrivate = msg.type === 'private' || (msg.type === 'file' && msg.to !== undefined);
    const from = msg.from !== undefined ? msg.from : msg.name;
    const li = el('li', {
      'data-testid': 'message', 'data-seq': String(msg.seq), 'data-from': from,
      'data-kind': kind, class: `entry ${kind}`,
    });
    if (isPrivate) { li.dataset.private = 'true'; li.classList.add('private'); }
    if (msg.history) { li.dataset.history = 'true'; li.classList.add('history'); }
    const when = new Date(msg.ts);
    const time = el('time', { 'data-testid': 'message-time', datetime: when.toISOString(), title: when.toLocaleString() },
      when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    li.append(time, ' ');
    if (msg.type === 'joined' || msg.type === 'left') {
      li.append(el('span', { 'data-testid': 'message-text', class: 'text system' },
        msg.type === 'joined' ? `${msg.name} joined (${msg.kind})` : `${msg.name} left`));
    } else {
      li.append(el('span', { 'data-testid': 'message-from', class: 'from' }, from), ' ');
      if (isPrivate) {
        const label = from === me ? `private to ${msg.to}` : 'private';
        li.append(el('span', { 'data-testid': 'private-marker', class: 'marker' }, label), ' ');
      }
      if (msg.type === 'file') {
        li.append(fileBody(msg));
      } else {
        li.append(el('span', { 'data-testid': 'message-text', class: 'text' }, visible(msg.text)));
      }
    }
    const atBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
    list.append(li);
    if (atBottom) li.scrollIntoView({ block: 'end' });
    if (document.hidden && !msg.history && from !== me) {
      unread += 1;
      document.title = `(${unread}) ${baseTitle}`;
    }
  }

  function fileBody(msg) {
    const box = el('span', { class: 'file' });
    const link = el('a', {
      href: msg.url, 'data-testid': 'file-link', 'data-name': msg.name, 'data-size': String(msg.size),
      rel: 'noopener',
    }, `${visible(msg.name)} (${humanSize(msg.size)})`);
    if (!msg.inline) link.setAttribute('download', visible(msg.name));
    else link.setAttribute('target', '_blank');
    box.append(link);
    if (msg.inline) {
      const img = el('img', { src: msg.url, alt: visible(msg.name), 'data-testid': 'inline-image', loading: 'lazy' });
      const wrap = el('a', { href: msg.url, target: '_blank', rel: 'noopener', class: 'image' });
      wrap.append(img);
      box.append(wrap);
    }
    return box;
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) { unread = 0; document.title = baseTitle; }
  });

  // ---- users ----

  function setUsers(list) {
    users = list.slice();
    if (!users.some((u) => u.name.toLowerCase() === me.toLowerCase())) users.push({ name: me, kind: 'web' });
    renderUsers();
  }

  function addUser(user) {
    if (!users.some((u) => u.name.toLowerCase() === user.name.toLowerCase())) users.push(user);
    renderUsers();
  }

  function removeUser(name) {
    const key = name.toLowerCase();
    users = users.filter((u) => u.name.toLowerCase() !== key);
    // What was meant for one person must never fall back to the whole room:
    // the chosen recipient stays chosen, marked gone, and sending is refused
    // until the user picks again. A later user of the same name may be someone
    // else, so a rejoin does not revive the choice.
    if (privateTo && privateTo.toLowerCase() === key) setPrivateGone(true);
    if (uploadTo.value.toLowerCase() === key) uploadGone = uploadTo.value;
    renderUsers();
  }

  function present(name) {
    return users.some((u) => u.name.toLowerCase() === name.toLowerCase());
  }

  function renderUsers() {
    users.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
    userList.replaceChildren();
    for (const u of users) {
      const self = u.name === me;
      const li = el('li', { 'data-testid': 'user', 'data-name': u.name, 'data-kind': u.kind, class: `user ${u.kind}` });
      if (self) { li.dataset.self = 'true'; li.classList.add('self'); }
      li.append(el('span', { class: 'user-name' }, u.name), ' ', el('span', { class: 'kind' }, u.kind));
      if (!self) {
        li.tabIndex = 0;
        li.title = `write privately to ${u.name}`;
        li.addEventListener('click', () => setPrivate(u.name));
        li.addEventListener('keydown', (e) => { if (e.key === 'Enter') setPrivate(u.name); });
      }
      userList.append(li);
    }
    const selected = uploadTo.value;
    if (uploadGone && selected !== uploadGone) uploadGone = null;
    uploadTo.replaceChildren(el('option', { value: 'room' }, 'the room'));
    for (const u of users) {
      if (u.name !== me && u.name !== uploadGone) uploadTo.append(el('option', { value: u.name }, u.name));
    }
    if (uploadGone) {
      // The chosen recipient left: keep it chosen (never switch to the room).
      uploadTo.append(el('option', { value: uploadGone, 'data-gone': 'true' }, `${uploadGone} (left)`));
    }
    uploadTo.value = [...uploadTo.options].some((o) => o.value === selected) ? selected : 'room';
  }

  function setPrivate(name) {
    privateTo = name;
    setPrivateGone(false);
    privateBox.hidden = !name;
    privateName.textContent = name || '';
    input.placeholder = name ? `Private message to ${name}` : 'Message the room (/msg NAME TEXT for private)';
    if (name && [...uploadTo.options].some((o) => o.value === name)) uploadTo.value = name;
    if (!name) uploadTo.value = 'room';
    document.body.classList.remove('show-users');
    input.focus();
  }
  function setPrivateGone(gone) {
    privateGone = gone;
    privateBox.classList.toggle('gone', gone);
    privateGoneNote.hidden = !gone;
  }
  $('private-cancel').addEventListener('click', () => setPrivate(null));
  uploadTo.addEventListener('change', () => {
    if (uploadTo.value !== uploadGone) { uploadGone = null; renderUsers(); }
  });
  $('toggle-users').addEventListener('click', () => document.body.classList.toggle('show-users'));

  // ---- notices ----

  let noticeTimer = null;
  function say(text, isError) {
    notice.textContent = visible(text);
    notice.hidden = false;
    notice.classList.toggle('error', !!isError);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
  }

  // ---- sending ----

  const HELP = 'Commands: /msg NAME TEXT (or /private, /w), /room (back to the room), /sendfile NAME, '
    + '/sendimage NAME (choose a file for NAME, or "all"), /users, /help. Click a user to write privately.';

  function send(obj) {
    if (!wsOpen || !inRoom) { say('Not connected (reconnecting); your message was kept.', true); return false; }
    ws.send(JSON.stringify(obj));
    return true;
  }

  messageForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    let sent = false;
    const m = /^\/(\w+)(?:\s+(\S+))?(?:\s+([\s\S]*))?$/.exec(text.trim());
    if (m && text.trim().startsWith('/')) {
      const [, cmd, arg, rest] = m;
      switch (cmd.toLowerCase()) {
        case 'private': case 'msg': case 'w':
          if (!arg || !rest) { say('Usage: /msg NAME TEXT', true); return; }
          sent = send({ type: 'private', to: arg, text: rest });
          break;
        case 'room': setPrivate(null); input.value = ''; return;
        case 'users': sent = send({ type: 'users' }); break;
        case 'sendfile': case 'sendimage': {
          const to = !arg || arg.toLowerCase() === 'all' ? 'room' : arg;
          if (![...uploadTo.options].some((o) => o.value === to)) { say(`No user named ${arg} here.`, true); return; }
          uploadTo.value = to;
          uploadFile.accept = cmd.toLowerCase() === 'sendimage' ? 'image/png,image/jpeg,image/gif,image/webp' : '';
          input.value = '';
          uploadFile.dataset.auto = 'true';
          uploadFile.click();
          return;
        }
        case 'help': say(HELP); input.value = ''; return;
        default: say(`Unknown command /${cmd}. ${HELP}`, true); return;
      }
    } else if (privateTo && privateGone) {
      say(`Not sent: ${privateTo} left the room. Click a name to write privately, or "back to the room".`, true);
      return;
    } else if (privateTo) {
      sent = send({ type: 'private', to: privateTo, text });
    } else {
      sent = send({ type: 'say', text });
    }
    if (sent) input.value = '';
  });

  // ---- files: form, drag and drop, paste ----

  function upload(file, to) {
    if (to !== 'room' && (to === uploadGone || !present(to))) {
      say(`Not sent: ${to} left the room. Choose another recipient.`, true);
      return false;
    }
    if (file.size > maxUpload) {
      say(`${file.name} is ${humanSize(file.size)}; the limit is ${humanSize(maxUpload)}.`, true);
      return false;
    }
    const data = new FormData();
    data.append('csrf', csrf);
    data.append('to', to);
    data.append('file', file, file.name || 'pasted');
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/upload');
    xhr.setRequestHeader('Accept', 'application/json');
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total; };
    xhr.onload = () => {
      progress.hidden = true;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 200 && body && body.ok) say(body.message);
      else say(body && body.error ? body.error : `Upload failed (HTTP ${xhr.status}).`, true);
    };
    xhr.onerror = () => { progress.hidden = true; say('Upload failed: the gateway cannot be reached.', true); };
    xhr.send(data);
    return true;
  }

  uploadForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const file = uploadFile.files[0];
    if (!file) { say('Choose a file first.', true); return; }
    // Only the file is cleared: the recipient stays as chosen (a form reset
    // would switch it back to the room).
    if (upload(file, uploadTo.value)) uploadFile.value = '';
  });
  uploadFile.addEventListener('change', () => {
    // Chosen through /sendfile: send at once.
    if (uploadFile.dataset.auto === 'true' && uploadFile.files[0]) {
      delete uploadFile.dataset.auto;
      uploadFile.accept = '';
      upload(uploadFile.files[0], uploadTo.value);
      uploadFile.value = '';
    }
  });

  document.addEventListener('dragover', (e) => {
    if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) {
      e.preventDefault();
      document.body.classList.add('dragging');
    }
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) document.body.classList.remove('dragging');
  });
  document.addEventListener('drop', (e) => {
    document.body.classList.remove('dragging');
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    for (const file of e.dataTransfer.files) upload(file, uploadTo.value);
  });
  document.addEventListener('paste', (e) => {
    const files = e.clipboardData ? [...e.clipboardData.files] : [];
    if (files.length === 0) return;
    e.preventDefault();
    for (const file of files) upload(file, uploadTo.value);
  });

  showState();
  connect();
})();
