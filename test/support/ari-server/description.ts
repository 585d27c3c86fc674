/**
 * Our own ARI API description (Swagger 1.1, as Asterisk 22 serves it) for the subset spoofguard uses. Names,
 * parameters and models follow Asterisk 22; `check-ari-description.mjs` compares them with Asterisk's files.
 * ari-client builds its methods from this, and finds each event's model here, so every event the test
 * server sends must be described.
 */
type Param = {
  name: string;
  paramType: 'path' | 'query' | 'body';
  dataType: string;
  required?: boolean;
  allowMultiple?: boolean;
};
type Op = { httpMethod: string; nickname: string; responseClass: string; parameters: Param[] };

const p = (
  name: string,
  paramType: Param['paramType'],
  dataType: string,
  required = false,
  allowMultiple = false,
): Param => ({ name, paramType, dataType, required, allowMultiple });
const op = (httpMethod: string, nickname: string, responseClass: string, parameters: Param[] = []): Op => ({
  httpMethod,
  nickname,
  responseClass,
  parameters,
});

const channelId = p('channelId', 'path', 'string', true);
const bridgeId = p('bridgeId', 'path', 'string', true);
const originateParams = [
  p('endpoint', 'query', 'string', true),
  p('extension', 'query', 'string'),
  p('context', 'query', 'string'),
  p('priority', 'query', 'long'),
  p('label', 'query', 'string'),
  p('app', 'query', 'string'),
  p('appArgs', 'query', 'string'),
  p('callerId', 'query', 'string'),
  p('timeout', 'query', 'int'),
  p('variables', 'body', 'containers'),
  p('otherChannelId', 'query', 'string'),
  p('originator', 'query', 'string'),
  p('formats', 'query', 'string'),
];
const playParams = [
  p('media', 'query', 'string', true, true),
  p('lang', 'query', 'string'),
  p('offsetms', 'query', 'int'),
  p('skipms', 'query', 'int'),
];

const prop = (type: string, required = true): { type: string; required: boolean } => ({ type, required });

function resource(
  name: string,
  apis: { path: string; operations: Op[] }[],
  models: Record<string, unknown>,
  basePath: string,
): object {
  return {
    apiVersion: '10.0.0',
    swaggerVersion: '1.1',
    basePath,
    resourcePath: `/api-docs/${name}.{format}`,
    requiresModules: ['res_stasis'],
    apis: apis.map((a) => ({ ...a, description: a.path })),
    models,
  };
}

const channelModels = {
  Channel: {
    id: 'Channel',
    properties: {
      id: prop('string'),
      protocol_id: prop('string'),
      name: prop('string'),
      state: prop('string'),
      caller: prop('CallerID'),
      connected: prop('CallerID'),
      accountcode: prop('string'),
      dialplan: prop('DialplanCEP'),
      creationtime: prop('Date'),
      language: prop('string'),
      channelvars: prop('object', false),
    },
  },
  CallerID: { id: 'CallerID', properties: { name: prop('string'), number: prop('string') } },
  DialplanCEP: {
    id: 'DialplanCEP',
    properties: {
      context: prop('string'),
      exten: prop('string'),
      priority: prop('long'),
      app_name: prop('string'),
      app_data: prop('string'),
    },
  },
  Variable: { id: 'Variable', properties: { value: prop('string') } },
};

const playbackModel = {
  Playback: {
    id: 'Playback',
    properties: {
      id: prop('string'),
      media_uri: prop('string'),
      next_media_uri: prop('string', false),
      target_uri: prop('string'),
      language: prop('string', false),
      state: prop('string'),
    },
  },
};

const bridgeModel = {
  Bridge: {
    id: 'Bridge',
    properties: {
      id: prop('string'),
      technology: prop('string'),
      bridge_type: prop('string'),
      bridge_class: prop('string'),
      creator: prop('string'),
      name: prop('string'),
      channels: prop('List[string]'),
      creationtime: prop('Date'),
    },
  },
};

// As in Asterisk: type and asterisk_id live on Message, application and timestamp on Event, the subtypes' own fields on each.
const event = (id: string, properties: Record<string, { type: string; required: boolean }>): object => ({
  id,
  properties,
});

export const EVENT_TYPES = [
  'StasisStart',
  'StasisEnd',
  'ChannelStateChange',
  'ChannelDtmfReceived',
  'PlaybackStarted',
  'PlaybackFinished',
  'ChannelHangupRequest',
  'ChannelEnteredBridge',
  'ChannelLeftBridge',
  'ChannelDestroyed',
  'Dial',
] as const;

const eventModels = {
  Message: {
    id: 'Message',
    discriminator: 'type',
    subTypes: ['Event'],
    properties: { type: prop('string'), asterisk_id: prop('string', false) },
  },
  Event: { id: 'Event', subTypes: EVENT_TYPES, properties: { application: prop('string'), timestamp: prop('Date') } },
  StasisStart: event('StasisStart', {
    args: prop('List[string]'),
    channel: prop('Channel'),
    replace_channel: prop('Channel', false),
  }),
  StasisEnd: event('StasisEnd', { channel: prop('Channel') }),
  ChannelStateChange: event('ChannelStateChange', { channel: prop('Channel') }),
  ChannelDtmfReceived: event('ChannelDtmfReceived', {
    digit: prop('string'),
    duration_ms: prop('int'),
    channel: prop('Channel'),
  }),
  PlaybackStarted: event('PlaybackStarted', { playback: prop('Playback') }),
  PlaybackFinished: event('PlaybackFinished', { playback: prop('Playback') }),
  ChannelHangupRequest: event('ChannelHangupRequest', {
    cause: prop('int', false),
    soft: prop('boolean', false),
    channel: prop('Channel'),
  }),
  ChannelEnteredBridge: event('ChannelEnteredBridge', { bridge: prop('Bridge'), channel: prop('Channel', false) }),
  ChannelLeftBridge: event('ChannelLeftBridge', { bridge: prop('Bridge'), channel: prop('Channel') }),
  ChannelDestroyed: event('ChannelDestroyed', {
    cause: prop('int'),
    cause_txt: prop('string'),
    channel: prop('Channel'),
  }),
  Dial: event('Dial', {
    caller: prop('Channel', false),
    peer: prop('Channel'),
    dialstring: prop('string', false),
    dialstatus: prop('string'),
  }),
};

export function description(basePath: string): Record<string, object> {
  return {
    resources: {
      apiVersion: '10.0.0',
      swaggerVersion: '1.1',
      basePath,
      apis: ['asterisk', 'channels', 'bridges', 'playbacks', 'events'].map((name) => ({
        path: `/api-docs/${name}.{format}`,
        description: `${name} resources`,
      })),
    },
    asterisk: resource(
      'asterisk',
      [
        {
          path: '/asterisk/info',
          operations: [op('GET', 'getInfo', 'AsteriskInfo', [p('only', 'query', 'string')])],
        },
        {
          path: '/asterisk/variable',
          operations: [
            op('GET', 'getGlobalVar', 'Variable', [p('variable', 'query', 'string', true)]),
            op('POST', 'setGlobalVar', 'void', [p('variable', 'query', 'string', true), p('value', 'query', 'string')]),
          ],
        },
      ],
      {
        Variable: channelModels.Variable,
        AsteriskInfo: {
          id: 'AsteriskInfo',
          properties: { system: { required: false, type: 'SystemInfo' } },
        },
        SystemInfo: {
          id: 'SystemInfo',
          properties: { version: { required: true, type: 'string' }, entity_id: { required: true, type: 'string' } },
        },
      },
      basePath,
    ),
    channels: resource(
      'channels',
      [
        {
          path: '/channels',
          operations: [
            op('GET', 'list', 'List[Channel]'),
            op('POST', 'originate', 'Channel', [
              ...originateParams.slice(0, 10),
              p('channelId', 'query', 'string'),
              ...originateParams.slice(10),
            ]),
          ],
        },
        {
          path: '/channels/{channelId}',
          operations: [
            op('GET', 'get', 'Channel', [channelId]),
            op('DELETE', 'hangup', 'void', [
              channelId,
              p('reason_code', 'query', 'string'),
              p('reason', 'query', 'string'),
            ]),
          ],
        },
        {
          path: '/channels/{channelId}/continue',
          operations: [
            op('POST', 'continueInDialplan', 'void', [
              channelId,
              p('context', 'query', 'string'),
              p('extension', 'query', 'string'),
              p('priority', 'query', 'int'),
              p('label', 'query', 'string'),
            ]),
          ],
        },
        { path: '/channels/{channelId}/answer', operations: [op('POST', 'answer', 'void', [channelId])] },
        {
          path: '/channels/{channelId}/ring',
          operations: [op('POST', 'ring', 'void', [channelId]), op('DELETE', 'ringStop', 'void', [channelId])],
        },
        {
          path: '/channels/{channelId}/play',
          operations: [op('POST', 'play', 'Playback', [channelId, ...playParams, p('playbackId', 'query', 'string')])],
        },
        {
          path: '/channels/{channelId}/variable',
          operations: [
            op('GET', 'getChannelVar', 'Variable', [channelId, p('variable', 'query', 'string', true)]),
            op('POST', 'setChannelVar', 'void', [
              channelId,
              p('variable', 'query', 'string', true),
              p('value', 'query', 'string'),
            ]),
          ],
        },
      ],
      channelModels,
      basePath,
    ),
    bridges: resource(
      'bridges',
      [
        {
          path: '/bridges',
          operations: [
            op('GET', 'list', 'List[Bridge]'),
            op('POST', 'create', 'Bridge', [
              p('type', 'query', 'string'),
              p('bridgeId', 'query', 'string'),
              p('name', 'query', 'string'),
            ]),
          ],
        },
        { path: '/bridges/{bridgeId}', operations: [op('DELETE', 'destroy', 'void', [bridgeId])] },
        {
          path: '/bridges/{bridgeId}/addChannel',
          operations: [
            op('POST', 'addChannel', 'void', [
              bridgeId,
              p('channel', 'query', 'string', true, true),
              p('role', 'query', 'string'),
            ]),
          ],
        },
      ],
      bridgeModel,
      basePath,
    ),
    playbacks: resource(
      'playbacks',
      [
        {
          path: '/playbacks/{playbackId}',
          operations: [
            op('GET', 'get', 'Playback', [p('playbackId', 'path', 'string', true)]),
            op('DELETE', 'stop', 'void', [p('playbackId', 'path', 'string', true)]),
          ],
        },
      ],
      playbackModel,
      basePath,
    ),
    events: resource(
      'events',
      [
        {
          path: '/events',
          operations: [
            op('GET', 'eventWebsocket', 'Message', [
              p('app', 'query', 'string', true, true),
              p('subscribeAll', 'query', 'boolean'),
            ]),
          ],
        },
      ],
      { ...eventModels, ...channelModels, ...bridgeModel, ...playbackModel },
      basePath,
    ),
  };
}
