// A browser viewer of the room agent, shared by the test pages: offers recvonly video + audio
// and the two data channels through the test's signaling relay (/viewer), plays the stream in
// `video`. The relay socket stays open: closing it closes the peer, as the hub does.
async function connectViewer(video, {conn, user, lowDelay = false}) {
  const pc = new RTCPeerConnection({iceServers: []});
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  pc.createDataChannel('pointer', {ordered: false, maxRetransmits: 0});
  const input = pc.createDataChannel('input');
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    if (lowDelay) {
      // Ask Chromium to play frames as soon as they decode (no playout buffering).
      e.receiver.jitterBufferTarget = 0;
      e.receiver.playoutDelayHint = 0;
    }
    stream.addTrack(e.track); video.srcObject = stream; video.play().catch(() => {});
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((ok) => {
    if (pc.iceGatheringState === 'complete') return ok();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && ok();
    setTimeout(ok, 2000);
  });
  const ws = new WebSocket(`ws://${location.host}/viewer`);
  await new Promise((ok) => ws.onopen = ok);
  const answered = new Promise((ok) => ws.onmessage = (e) => ok(JSON.parse(e.data)));
  ws.send(JSON.stringify({conn, user, sdp: pc.localDescription.sdp}));
  await pc.setRemoteDescription({type: 'answer', sdp: (await answered).sdp});
  return {pc, input, ws};
}
