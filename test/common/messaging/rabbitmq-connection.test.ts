import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartupError } from '../../../src/common/errors.ts';
import { redactUrl, startupError } from '../../../src/common/messaging/rabbitmq-connection.ts';

describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['amqp://guest:secret@127.0.0.1:5672/vhost', 'amqp://guest@127.0.0.1:5672/vhost'],
    ['amqp://127.0.0.1:5673/', 'amqp://127.0.0.1:5673/'],
    ['amqps://u:p%40ss@broker.example.org/%2F', 'amqps://u@broker.example.org/%2F'],
    ['not a url secret', '(an unparsable URL)'],
    ['user:secret@host', '(an unparsable URL)'],
  ];
  for (const [url, shown] of cases)
    it(`shows ${url} as ${shown}`, () => assert.equal(redactUrl(url), shown));
});

describe('startupError', () => {
  const url = 'amqp://nova:pa55word@10.0.0.5:5672/cloud';
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5672'), {
    code: 'ECONNREFUSED',
  });
  const cases: { name: string; url?: string; err: unknown; line: string | RegExp }[] = [
    {
      name: 'a refused connection',
      err: refused,
      line: "cannot reach the message broker at amqp://nova@10.0.0.5:5672/cloud (connect ECONNREFUSED 10.0.0.5:5672); start RabbitMQ ('rabbitmq-server -detached') or fix messaging.url",
    },
    {
      name: 'a refused connection on every address of a name',
      url: 'amqp://localhost:5672/',
      err: Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' }),
      line: /^cannot reach the message broker at amqp:\/\/localhost:5672\/ \(connect ECONNREFUSED/,
    },
    {
      name: 'an unknown host',
      err: Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }),
      line: /^cannot reach .*ENOTFOUND/,
    },
    {
      name: 'a connect timeout',
      err: new Error('connect ETIMEDOUT'),
      line: /^cannot reach .*\(connect ETIMEDOUT\); start RabbitMQ/,
    },
    {
      name: 'a refused login',
      err: new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
      ),
      line: "the message broker at amqp://nova@10.0.0.5:5672/cloud refused the login of user 'nova' (ACCESS_REFUSED); fix the user and password in messaging.url",
    },
    {
      name: 'an operation the user may not do',
      err: new Error(
        "Operation failed: ExchangeDeclare; 403 (ACCESS-REFUSED) with message \"ACCESS_REFUSED - access to exchange 'tstack' in vhost 'cloud' refused for user 'nova'\"",
      ),
      line: /^the message broker at amqp:\/\/nova@10\.0\.0\.5:5672\/cloud refused user 'nova' an operation \(.*\); grant the permissions \('rabbitmqctl set_permissions -p cloud nova ".\*" ".\*" ".\*"'\) or fix messaging\.url$/,
    },
    {
      name: 'a vhost the user may not open',
      err: new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
      line: /did not let user 'nova' open virtual host 'cloud'; create it \('rabbitmqctl add_vhost cloud', then 'rabbitmqctl set_permissions -p cloud nova/,
    },
    {
      name: 'an error message that repeats the password',
      err: new Error('weird failure for pa55word\nsecond line'),
      line: 'cannot connect to the message broker at amqp://nova@10.0.0.5:5672/cloud (weird failure for *** second line); check messaging.url',
    },
    {
      name: 'an unparsable URL',
      url: 'nova:pa55word@host',
      err: new Error('x'),
      line: /^invalid messaging.url \(an unparsable URL\): write it as amqp:/,
    },
  ];
  for (const { name, url: given, err, line } of cases) {
    it(`explains ${name} in one line`, () => {
      const error = startupError(given ?? url, err);
      assert.ok(error instanceof StartupError);
      assert.doesNotMatch(error.message, /\n|pa55word/);
      if (typeof line === 'string') assert.equal(error.message, line);
      else assert.match(error.message, line);
    });
  }
});
