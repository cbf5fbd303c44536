// The sscontrol demo page: a host shares its screen, a controller watches it and sends pointer and
// key events back over a WebRTC data channel. Uses only @sscontrol/client (bundled as
// ./sscontrol-client.js by scripts/build-demo.mjs) and the browser's own APIs.
import { PeerLinks, SignalingClient } from './sscontrol-client.js';

const $ = (id) => document.getElementById(id);

/** The page's state, also on `window.sscontrolDemo` for the end-to-end test and the curious. */
const demo = {
  client: null,
  links: null,
  stream: null,
  role: null,
  /** Video frames shown on the controller's page. */
  frames: 0,
  /** Control events received by the host. */
  received: [],
  /** Control events sent by the controller. */
  sent: 0,
  /** Sum of `framesDecoded` over the inbound video of every peer connection. */
  async framesDecoded() {
    let total = 0;
    for (const link of demo.links?.all() ?? []) {
      const stats = await link.pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') total += s.framesDecoded ?? 0;
      });
    }
    return total;
  },
};
window.sscontrolDemo = demo;

// ---------------------------------------------------------------------------------------------
// Page chrome
// ---------------------------------------------------------------------------------------------

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $('log').prepend(li);
  while ($('log').childElementCount > 200) $('log').lastElementChild.remove();
}

function status(text, kind = 'info') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

function selectedRole() {
  return document.querySelector('input[name="role"]:checked').value;
}

function showRole() {
  $('connect-form').dataset.role = selectedRole();
}

$('url').value = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
for (const radio of document.querySelectorAll('input[name="role"]')) {
  radio.addEventListener('change', showRole);
}
showRole();

$('connect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  start().catch((error) => {
    status(`Failed: ${error.message}`, 'error');
    log(`error: ${error.code ?? error.name}: ${error.message}`);
    stop();
  });
});
$('stop').addEventListener('click', () => stop());

// ---------------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------------

async function start() {
  const role = selectedRole();
  demo.role = role;
  $('connect-form').hidden = true;
  $('stop').hidden = false;
  const client = new SignalingClient({
    url: $('url').value.trim(),
    token: $('token').value.trim(),
  });
  demo.client = client;
  client.on('state', (s) => log(`connection: ${s}`));
  client.on('error', (e) => log(`error: ${e.code}: ${e.message}`));
  client.on('reconnecting', (r) =>
    status(`Connection lost (${r.closeCode}); reconnecting in ${r.delayMs} ms…`),
  );
  client.on('resumed', (r) => {
    status('Reconnected: session resumed.');
    log(`session resumed (${r.redelivered} missed events redelivered)`);
  });
  client.on('session.lost', (l) => status(`Session lost: ${l.error.message}`, 'error'));
  client.on('peer.joined', (p) => log(`${p.role} ${p.subject} joined (${p.peerId})`));
  client.on('peer.left', (p) => log(`${p.role} ${p.subject} left: ${p.reason}`));
  client.on('session', () => showPeers());
  client.on('session.ended', (e) => {
    status(`The session ended (${e.reason}).`);
    stop();
  });
  client.on('closed', (c) => {
    if (c.error) status(`Disconnected: ${c.error.message}`, 'error');
    stop();
  });

  status('Connecting…');
  const welcome = await client.connect();
  log(`connected to ${welcome.instance} as ${welcome.subject} (${welcome.role})`);
  if (welcome.role !== role) {
    throw new Error(`this token is for a ${welcome.role}, not a ${role}`);
  }
  if (role === 'host') await startHost(client);
  else await startController(client);
}

function stop() {
  const { client, links, stream } = demo;
  demo.client = null;
  demo.links = null;
  demo.stream = null;
  links?.close();
  for (const track of stream?.getTracks() ?? []) track.stop();
  if (client && client.state !== 'closed') {
    const ending = client.session?.opened ? client.endSession().catch(() => undefined) : null;
    Promise.resolve(ending).finally(() => client.close());
  }
  $('connect-form').hidden = false;
  $('stop').hidden = true;
  $('host-view').hidden = true;
  $('controller-view').hidden = true;
  $('cursor').hidden = true;
  $('join-requests').replaceChildren();
}

function showPeers() {
  const peers = demo.client?.session?.peers ?? [];
  $('controllers').textContent = peers.length
    ? peers.map((p) => `${p.subject} (${p.role})`).join(', ')
    : 'none';
}

// ---------------------------------------------------------------------------------------------
// Host: share the screen, open a session, admit controllers, show their pointer
// ---------------------------------------------------------------------------------------------

async function captureSource() {
  if ($('source').value === 'screen') {
    return navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  }
  // A moving test pattern, for machines that cannot capture a screen.
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d');
  const draw = () => {
    if (!demo.stream) return;
    const t = performance.now() / 1000;
    g.fillStyle = '#0b3d91';
    g.fillRect(0, 0, 640, 360);
    g.fillStyle = '#ffd33d';
    g.fillRect(((t * 120) % 700) - 60, 140, 60, 80);
    g.fillStyle = '#fff';
    g.font = '28px sans-serif';
    g.fillText(`sscontrol ${new Date().toLocaleTimeString()}`, 20, 50);
    requestAnimationFrame(draw);
  };
  const stream = canvas.captureStream(15);
  requestAnimationFrame(draw);
  return stream;
}

async function startHost(client) {
  const stream = await captureSource();
  demo.stream = stream;
  $('local-video').srcObject = stream;
  stream.getVideoTracks()[0]?.addEventListener('ended', () => {
    status('Screen sharing stopped.');
    stop();
  });

  demo.links = new PeerLinks(client, {
    onLink(link, remote) {
      for (const track of stream.getTracks()) link.pc.addTrack(track, stream);
      link.on('state', (s) =>
        log(`peer connection with ${remote?.subject ?? link.remotePeerId}: ${s}`),
      );
      link.on('control', (channel) =>
        channel.on('message', (event) => showControl(remote?.subject ?? link.remotePeerId, event)),
      );
    },
  });
  demo.links.on('error', (e) => log(`webrtc: ${e.message}`));

  client.on('join.requested', (r) => showJoinRequest(client, r));
  client.on('join.denied', (r) => {
    document.getElementById(`join-${r.requestId}`)?.remove();
    log(`join request ${r.requestId}: ${r.reason}`);
  });

  const sessionId = $('host-session').value.trim();
  const opened = await client.openSession({
    ...(sessionId ? { sessionId } : {}),
    joinPolicy: $('ask-host').checked ? 'ask-host' : 'token',
    maxPeers: 4,
  });
  $('session-id').textContent = opened.sessionId;
  $('host-view').hidden = false;
  status(`Sharing: controllers join session "${opened.sessionId}".`);
  log(
    `session ${opened.sessionId} open (${opened.joinPolicy}), ICE servers: ${opened.iceServers.length}`,
  );
}

function showJoinRequest(client, request) {
  const box = document.createElement('div');
  box.className = 'join-request';
  box.id = `join-${request.requestId}`;
  const text = document.createElement('span');
  text.textContent = `${request.subject} (${request.role}) asks to join.`;
  const accept = document.createElement('button');
  accept.textContent = 'Accept';
  accept.dataset.action = 'accept';
  const deny = document.createElement('button');
  deny.textContent = 'Deny';
  deny.dataset.action = 'deny';
  const answer = (admit) => {
    box.remove();
    const done = admit
      ? client.acceptJoin(request.requestId)
      : client.denyJoin(request.requestId, 'denied on the demo page');
    done.then(
      () => log(`${admit ? 'accepted' : 'denied'} ${request.subject}`),
      (e) => log(`answering ${request.subject} failed: ${e.message}`),
    );
  };
  accept.addEventListener('click', () => answer(true));
  deny.addEventListener('click', () => answer(false));
  box.append(text, accept, deny);
  $('join-requests').append(box);
  log(`join request from ${request.subject}`);
}

function showControl(from, event) {
  demo.received.push(event);
  const cursor = $('cursor');
  if (event.type === 'pointer' && typeof event.x === 'number' && typeof event.y === 'number') {
    cursor.hidden = false;
    cursor.style.left = `${Math.min(1, Math.max(0, event.x)) * 100}%`;
    cursor.style.top = `${Math.min(1, Math.max(0, event.y)) * 100}%`;
    if (event.action === 'down') cursor.dataset.pressed = 'true';
    if (event.action === 'up') cursor.dataset.pressed = 'false';
    if (event.action === 'move') return; // too many to log
  }
  log(`${from}: ${describeControl(event)}`);
}

function describeControl(event) {
  const at = (e) => `(${Number(e.x).toFixed(3)}, ${Number(e.y).toFixed(3)})`;
  switch (event.type) {
    case 'pointer':
      return `pointer ${event.action} at ${at(event)}${event.button === undefined ? '' : `, button ${event.button}`}`;
    case 'key':
      return `key ${event.action} ${JSON.stringify(event.key)}`;
    case 'wheel':
      return `wheel ${event.dx}, ${event.dy}`;
    default:
      return JSON.stringify(event);
  }
}

// ---------------------------------------------------------------------------------------------
// Controller: join, show the screen, send pointer and keys over the control channel
// ---------------------------------------------------------------------------------------------

async function startController(client) {
  const sessionId = $('join-session').value.trim();
  if (!sessionId) throw new Error('enter the session id the host shows');
  const video = $('remote-video');
  demo.links = new PeerLinks(client, {
    onLink(link, remote) {
      link.on('state', (s) =>
        log(`peer connection with ${remote?.subject ?? link.remotePeerId}: ${s}`),
      );
      link.on('track', ({ track, streams }) => {
        video.srcObject = streams[0] ?? new MediaStream([track]);
        log(`receiving ${track.kind} from ${remote?.subject ?? link.remotePeerId}`);
      });
      const channel = link.createControlChannel();
      channel.on('open', () => log('control channel open'));
      bindInput(video, channel);
    },
  });
  demo.links.on('error', (e) => log(`webrtc: ${e.message}`));
  countFrames(video);

  status(`Joining "${sessionId}"… (an ask-host session waits for the host)`);
  const joined = await client.joinSession(sessionId);
  $('watching').textContent = joined.sessionId;
  $('controller-view').hidden = false;
  status(`Joined "${joined.sessionId}".`);
}

function countFrames(video) {
  if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) return;
  const tick = () => {
    demo.frames++;
    $('frames').textContent = String(demo.frames);
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}

function bindInput(video, channel) {
  const send = (event) => {
    if (!channel.isOpen) return;
    channel.send(event);
    demo.sent++;
  };
  const position = (e) => {
    const r = video.getBoundingClientRect();
    return {
      x: Math.round(((e.clientX - r.left) / r.width) * 10_000) / 10_000,
      y: Math.round(((e.clientY - r.top) / r.height) * 10_000) / 10_000,
    };
  };
  let pendingMove = null;
  video.addEventListener('pointermove', (e) => {
    // One move per animation frame is plenty.
    if (pendingMove === null) {
      requestAnimationFrame(() => {
        send(pendingMove);
        pendingMove = null;
      });
    }
    pendingMove = { type: 'pointer', action: 'move', ...position(e) };
  });
  video.addEventListener('pointerdown', (e) => {
    video.focus();
    send({ type: 'pointer', action: 'down', button: e.button, ...position(e) });
  });
  video.addEventListener('pointerup', (e) =>
    send({ type: 'pointer', action: 'up', button: e.button, ...position(e) }),
  );
  video.addEventListener('contextmenu', (e) => e.preventDefault());
  video.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      send({ type: 'wheel', dx: Math.round(e.deltaX), dy: Math.round(e.deltaY) });
    },
    { passive: false },
  );
  for (const type of ['keydown', 'keyup']) {
    video.addEventListener(type, (e) => {
      e.preventDefault();
      send({
        type: 'key',
        action: type === 'keydown' ? 'down' : 'up',
        key: e.key,
        code: e.code,
        mods: { alt: e.altKey, ctrl: e.ctrlKey, meta: e.metaKey, shift: e.shiftKey },
      });
    });
  }
}
