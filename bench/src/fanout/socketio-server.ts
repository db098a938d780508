/**
 * The peer: a minimal Socket.IO 4.8 chat server, written as its documentation shows, the idiomatic
 * equivalent of our send / ack / message. WebSocket transport only; a handshake middleware verifies an
 * HS256 JWT (`auth.token`, jsonwebtoken, as the Socket.IO guides do) and the socket joins the rooms its
 * `auth.rooms` names; `send` (roomId, text) is answered through the acknowledgement callback with the
 * message, and the message goes to the room with `io.to(room).emit`, sender's socket included as ours
 * does. Nothing is stored: this is what a broadcast costs in Socket.IO, not a whole chat service.
 *
 * Environment: PORT, HOST, BENCH_SIO_SECRET. Started by the fan-out benchmark with its server hook.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';

const secret = process.env.BENCH_SIO_SECRET ?? '';
const TEXT_MAX_LENGTH = 4000;

interface SocketUser {
  id: string;
  username: string;
}

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok' : 'not found');
});
const io = new Server(server, { transports: ['websocket'], serveClient: false });

io.use((socket, next) => {
  try {
    const token: unknown = socket.handshake.auth.token;
    if (typeof token !== 'string') return next(new Error('unauthorized'));
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    socket.data.user = { id: String(claims.sub), username: String(claims.username) } satisfies SocketUser;
    next();
  } catch {
    next(new Error('unauthorized'));
  }
});

const seqByRoom = new Map<string, number>();

io.on('connection', (socket) => {
  const rooms: unknown = socket.handshake.auth.rooms;
  if (Array.isArray(rooms))
    void socket.join(rooms.filter((room): room is string => typeof room === 'string'));
  socket.on('send', (frame: { roomId?: unknown; text?: unknown }, ack: unknown) => {
    if (typeof ack !== 'function') return;
    const { roomId, text } = frame ?? {};
    if (typeof roomId !== 'string' || typeof text !== 'string' || text.length > TEXT_MAX_LENGTH)
      return ack({ error: { code: 'VALIDATION_FAILED' } });
    if (!socket.rooms.has(roomId)) return ack({ error: { code: 'FORBIDDEN' } });
    const seq = (seqByRoom.get(roomId) ?? 0) + 1;
    seqByRoom.set(roomId, seq);
    const message = {
      id: randomUUID(),
      roomId,
      seq,
      sender: socket.data.user as SocketUser,
      text,
      createdAt: new Date().toISOString(),
    };
    io.to(roomId).emit('message', message);
    ack({ message });
  });
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => {
  void io.close();
  process.exit(0);
});
