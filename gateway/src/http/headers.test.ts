import { clientResponseHeaders, upstreamRequestHeaders } from './headers';

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop fields, those Connection names, and what the gateway sets itself', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'gateway:8080',
        connection: 'keep-alive, X-Trace-Hop',
        'x-trace-hop': '1',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        trailer: 'x-checksum',
        upgrade: 'websocket',
        'proxy-authorization': 'Basic abc',
        'proxy-connection': 'keep-alive',
        expect: '100-continue',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'spoofed.example',
        authorization: 'Bearer t',
        'content-type': 'application/json',
        'x-request-id': 'r-1',
      },
      { for: '198.51.100.4', proto: 'http', host: 'gateway:8080' },
    );
    expect(out).toEqual({
      authorization: 'Bearer t',
      'content-type': 'application/json',
      'x-request-id': 'r-1',
      'x-forwarded-for': '198.51.100.4',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gateway:8080',
    });
  });

  it('leaves X-Forwarded-For and -Host out when the client address or Host is unknown', () => {
    expect(upstreamRequestHeaders({ accept: '*/*' }, { proto: 'http' })).toEqual({
      accept: '*/*',
      'x-forwarded-proto': 'http',
    });
  });
});

describe('clientResponseHeaders', () => {
  it("keeps the service's end-to-end fields, repeated ones included, and drops hop-by-hop ones", () => {
    expect(
      clientResponseHeaders({
        connection: 'close, x-internal',
        'x-internal': 'secret',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'proxy-authenticate': 'Basic',
        'www-authenticate': 'Bearer',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'application/json',
      }),
    ).toEqual({
      'www-authenticate': 'Bearer',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'application/json',
    });
  });
});
