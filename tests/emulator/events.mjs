// SPDX-License-Identifier: Apache-2.0
// Event builders: the exact shapes Lambda's event sources deliver (lambda-apis.md §4), so the
// emulator feeds the function what production would. Field order follows real events.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const md5hex = (b) => createHash('md5').update(b).digest('hex');

// SQS MD5OfMessageAttributes, as SQS computes it: attributes sorted by name, each encoded as
// len(name) name len(type) type transport-byte len(value) value (lengths big-endian uint32).
export function md5OfMessageAttributes(attrs) {
    const names = Object.keys(attrs).sort();
    if (names.length === 0) return null;
    const parts = [];
    const lenPrefixed = (buf) => {
        const l = Buffer.alloc(4);
        l.writeUInt32BE(buf.length);
        parts.push(l, buf);
    };
    for (const name of names) {
        const a = attrs[name];
        lenPrefixed(Buffer.from(name, 'utf8'));
        lenPrefixed(Buffer.from(a.dataType, 'utf8'));
        if (a.binaryValue !== undefined) {
            parts.push(Buffer.from([2]));
            lenPrefixed(Buffer.from(a.binaryValue, 'base64'));
        } else {
            parts.push(Buffer.from([1]));
            lenPrefixed(Buffer.from(String(a.stringValue), 'utf8'));
        }
    }
    return md5hex(Buffer.concat(parts));
}

// Accepts message attributes in the ESM shape ({stringValue,dataType}), the SQS API/SDK shape
// ({StringValue,DataType}) or a plain string, and returns the ESM shape.
export function normaliseSqsAttributes(input) {
    const out = {};
    for (const [name, v] of Object.entries(input || {})) {
        if (typeof v === 'string') {
            out[name] = { stringValue: v, stringListValues: [], binaryListValues: [], dataType: 'String' };
            continue;
        }
        const dataType = v.dataType ?? v.DataType ?? 'String';
        const bin = v.binaryValue ?? v.BinaryValue;
        const str = v.stringValue ?? v.StringValue;
        const attr = bin !== undefined ? { binaryValue: bin } : { stringValue: String(str) };
        out[name] = { ...attr, stringListValues: [], binaryListValues: [], dataType };
    }
    return out;
}

const receiptHandle = () => 'AQEB' + randomBytes(120).toString('base64');

export const queueArn = (o, queue) => `arn:aws:sqs:${o.region}:${o.account}:${queue}`;

// One SQS message as the event source mapping delivers it.
export function sqsRecord(o, queue, msg) {
    const now = Date.now();
    const attributes = {
        ApproximateReceiveCount: String(msg.receiveCount ?? 1),
        SentTimestamp: String(msg.sentTimestamp ?? now - 5),
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: String(now),
    };
    if (msg.awsTraceHeader) attributes.AWSTraceHeader = msg.awsTraceHeader;
    if (msg.messageGroupId) {
        attributes.SequenceNumber = String(BigInt(now) * 1000000n);
        attributes.MessageGroupId = msg.messageGroupId;
        attributes.MessageDeduplicationId = msg.messageDeduplicationId ?? md5hex(msg.body);
    }
    const messageAttributes = normaliseSqsAttributes(msg.messageAttributes);
    const rec = {
        messageId: msg.messageId ?? randomUUID(),
        receiptHandle: receiptHandle(),
        body: msg.body,
        attributes,
        messageAttributes,
    };
    const md5Attrs = md5OfMessageAttributes(messageAttributes);
    if (md5Attrs) rec.md5OfMessageAttributes = md5Attrs;
    rec.md5OfBody = md5hex(Buffer.from(msg.body, 'utf8'));
    rec.eventSource = 'aws:sqs';
    rec.eventSourceARN = queueArn(o, queue);
    rec.awsRegion = o.region;
    return rec;
}

export const sqsEvent = (records) => ({ Records: records });

const topicArn = (o, topic) => `arn:aws:sns:${o.region}:${o.account}:${topic}`;
const snsSignature = () => randomBytes(256).toString('base64');

function snsAttributes(input) {
    const out = {};
    for (const [name, v] of Object.entries(input || {})) {
        if (typeof v === 'string') out[name] = { Type: 'String', Value: v };
        else out[name] = { Type: v.Type ?? v.type ?? v.DataType ?? 'String', Value: String(v.Value ?? v.value ?? v.StringValue ?? v.stringValue) };
    }
    return out;
}

// SNS → Lambda: exactly one record; note SigningCertUrl/UnsubscribeUrl spelling.
export function snsEvent(o, p) {
    const arn = topicArn(o, p.topic);
    const sns = {
        Type: 'Notification',
        MessageId: p.messageId ?? randomUUID(),
        TopicArn: arn,
        Subject: p.subject ?? null,
        Message: p.message,
        Timestamp: new Date().toISOString(),
        SignatureVersion: '1',
        Signature: snsSignature(),
        SigningCertUrl: `https://sns.${o.region}.amazonaws.com/SimpleNotificationService-${md5hex(arn)}.pem`,
        UnsubscribeUrl: `https://sns.${o.region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${arn}:${randomUUID()}`,
        MessageAttributes: snsAttributes(p.messageAttributes),
    };
    return {
        Records: [
            {
                EventSource: 'aws:sns',
                EventVersion: '1.0',
                EventSubscriptionArn: `${arn}:${randomUUID()}`,
                Sns: sns,
            },
        ],
    };
}

// SNS → SQS with raw delivery off: the SQS body is this JSON envelope (SigningCertURL spelling,
// MessageAttributes only when there are some, Subject only when given).
export function snsEnvelope(o, p) {
    const arn = topicArn(o, p.topic);
    const env = { Type: 'Notification', MessageId: p.messageId ?? randomUUID(), TopicArn: arn };
    if (p.subject !== undefined) env.Subject = p.subject;
    env.Message = p.message;
    env.Timestamp = new Date().toISOString();
    env.SignatureVersion = '1';
    env.Signature = snsSignature();
    env.SigningCertURL = `https://sns.${o.region}.amazonaws.com/SimpleNotificationService-${md5hex(arn)}.pem`;
    env.UnsubscribeURL = `https://sns.${o.region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${arn}:${randomUUID()}`;
    const attrs = snsAttributes(p.messageAttributes);
    if (Object.keys(attrs).length) env.MessageAttributes = attrs;
    return env;
}

export function eventBridgeEvent(o, p) {
    return {
        version: '0',
        id: randomUUID(),
        'detail-type': p.detailType ?? p['detail-type'] ?? 'OrderPlaced',
        source: p.source ?? 'com.example.orders',
        account: o.account,
        time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: o.region,
        resources: p.resources ?? [],
        detail: p.detail ?? {},
    };
}

const xrayRootOnly = () => `Root=1-${Math.floor(Date.now() / 1000).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`;

// API Gateway REST API (payload 1.0): client header casing kept, multiValueHeaders mirrors them.
export function apiGatewayV1Event(o, p) {
    const method = p.method ?? 'POST';
    const path = p.path ?? '/orders';
    const headers = { Host: 'abc123.execute-api.' + o.region + '.amazonaws.com', 'X-Amzn-Trace-Id': xrayRootOnly(), 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Port': '443', 'X-Forwarded-Proto': 'https', ...(p.headers || {}) };
    const multiValueHeaders = {};
    for (const [k, v] of Object.entries(headers)) multiValueHeaders[k] = [v];
    const query = p.query || null;
    const mvq = query ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])) : null;
    const now = Date.now();
    return {
        resource: path,
        path,
        httpMethod: method,
        headers,
        multiValueHeaders,
        queryStringParameters: query,
        multiValueQueryStringParameters: mvq,
        pathParameters: null,
        stageVariables: null,
        requestContext: {
            resourceId: 'a1b2c3',
            resourcePath: path,
            httpMethod: method,
            extendedRequestId: randomBytes(8).toString('base64'),
            requestTime: new Date(now).toUTCString(),
            path: '/prod' + path,
            accountId: o.account,
            protocol: 'HTTP/1.1',
            stage: 'prod',
            domainPrefix: 'abc123',
            requestTimeEpoch: now,
            requestId: randomUUID(),
            identity: { sourceIp: '203.0.113.7', userAgent: headers['User-Agent'] ?? 'curl/8.0' },
            domainName: headers.Host,
            apiId: 'abc123',
        },
        body: p.body ?? null,
        isBase64Encoded: false,
    };
}

// HTTP API (payload 2.0): lower-case header names, duplicates comma-joined.
export function apiGatewayV2Event(o, p) {
    const method = p.method ?? 'POST';
    const path = p.path ?? '/orders';
    const headers = { host: 'abc123.execute-api.' + o.region + '.amazonaws.com', 'x-amzn-trace-id': xrayRootOnly(), 'x-forwarded-for': '203.0.113.7', 'x-forwarded-port': '443', 'x-forwarded-proto': 'https' };
    for (const [k, v] of Object.entries(p.headers || {})) {
        const key = k.toLowerCase();
        headers[key] = headers[key] !== undefined && key !== 'host' ? headers[key] + ',' + v : v;
    }
    const query = p.query || null;
    const now = Date.now();
    const ev = {
        version: '2.0',
        routeKey: `${method} ${path}`,
        rawPath: path,
        rawQueryString: query ? new URLSearchParams(query).toString() : '',
        headers,
    };
    if (query) ev.queryStringParameters = query;
    ev.requestContext = {
        accountId: o.account,
        apiId: 'abc123',
        domainName: headers.host,
        domainPrefix: 'abc123',
        http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: headers['user-agent'] ?? 'curl/8.0' },
        requestId: randomBytes(8).toString('base64').replace(/[+/=]/g, 'x'),
        routeKey: `${method} ${path}`,
        stage: '$default',
        time: new Date(now).toUTCString(),
        timeEpoch: now,
    };
    if (p.body !== undefined) ev.body = p.body;
    ev.isBase64Encoded = false;
    return ev;
}

// ---- streams and Kafka (lambda-apis.md §4) ----

// A Kafka header value as Lambda gives it: the bytes as a JSON array of numbers (signed, as the
// Java client's byte[] is, when `signed`).
const kafkaBytes = (v, signed) => [...Buffer.from(String(v), 'utf8')].map((b) => (signed && b > 127 ? b - 256 : b));

// Amazon MSK (`aws:kafka`) or self-managed Kafka (`SelfManagedKafka`): records grouped by
// "<topic>-<partition>"; headers an array of one-key objects. p: {topic, partition, messages:
// [{value, key, headers: {name: value}}], selfManaged, cluster, offset}.
export function kafkaEvent(o, p) {
    const topic = p.topic ?? 'orders';
    const partition = p.partition ?? 0;
    let offset = p.offset ?? 15;
    const records = (p.messages ?? []).map((m) => ({
        topic,
        partition,
        offset: offset++,
        timestamp: m.timestamp ?? Date.now() - 5,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(String(m.key ?? 'k')).toString('base64'),
        value: typeof m.value === 'object' && p.schemaRegistry ? m.value : Buffer.from(typeof m.value === 'string' ? m.value : JSON.stringify(m.value ?? {})).toString('base64'),
        headers: Object.entries(m.headers ?? {}).map(([k, v]) => ({ [k]: kafkaBytes(v, p.signed) })),
    }));
    const servers = 'b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092';
    if (p.selfManaged) return { eventSource: 'SelfManagedKafka', bootstrapServers: servers, records: { [`${topic}-${partition}`]: records } };
    return {
        eventSource: 'aws:kafka',
        eventSourceArn: `arn:aws:kafka:${o.region}:${o.account}:cluster/${p.cluster ?? 'demo-cluster-1'}/751d2973-a626-431c-9d4e-d7975eb44dd7-2`,
        bootstrapServers: servers,
        records: { [`${topic}-${partition}`]: records },
    };
}

// Kinesis Data Streams: data is the producer's bytes, base64. p: {stream, records: [{data,
// partitionKey}]} (an object `data` is sent as its JSON).
export function kinesisEvent(o, p) {
    const stream = p.stream ?? 'orders-stream';
    let seq = 49590338271490256608559692538361571095921575989136588898n;
    return {
        Records: (p.records ?? []).map((r) => {
            const sequenceNumber = String(seq++);
            const data = typeof r.data === 'string' ? r.data : JSON.stringify(r.data ?? {});
            return {
                kinesis: { kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey ?? '1', sequenceNumber, data: Buffer.from(data).toString('base64'), approximateArrivalTimestamp: (r.arrival ?? Date.now() - 5) / 1000 },
                eventSource: 'aws:kinesis',
                eventVersion: '1.0',
                eventID: `shardId-000000000006:${sequenceNumber}`,
                eventName: 'aws:kinesis:record',
                invokeIdentityArn: `arn:aws:iam::${o.account}:role/lambda-role`,
                awsRegion: o.region,
                eventSourceARN: `arn:aws:kinesis:${o.region}:${o.account}:stream/${stream}`,
            };
        }),
    };
}

// DynamoDB Streams (NEW_AND_OLD_IMAGES). p: {table, records: [{newImage: {attr: {S|N: ..}}}]}.
export function dynamodbEvent(o, p) {
    const table = p.table ?? 'Orders';
    let seq = 111;
    return {
        Records: (p.records ?? []).map((r, i) => ({
            eventID: String(i + 1),
            eventVersion: '1.0',
            dynamodb: { Keys: { Id: { N: String(101 + i) } }, NewImage: r.newImage ?? {}, StreamViewType: 'NEW_AND_OLD_IMAGES', SequenceNumber: String(seq++), SizeBytes: 26, ApproximateCreationDateTime: Math.floor((r.created ?? Date.now()) / 1000) },
            awsRegion: o.region,
            eventName: 'INSERT',
            eventSourceARN: `arn:aws:dynamodb:${o.region}:${o.account}:table/${table}/stream/2015-06-27T00:48:05.899`,
            eventSource: 'aws:dynamodb',
        })),
    };
}

// A Step Functions Task state invoking the function with the context object mapped in
// ("Execution.$": "$$.Execution", "State.$": "$$.State"). p: {stateMachine, execution, state,
// retryCount, enteredTime, input}.
export function stepFunctionsPayload(o, p) {
    const sm = p.stateMachine ?? 'OrderFlow';
    const name = p.execution ?? 'exec-1';
    return {
        ...(p.input ?? {}),
        Execution: { Id: `arn:aws:states:${o.region}:${o.account}:execution:${sm}:${name}`, Name: name, RoleArn: `arn:aws:iam::${o.account}:role/sfn`, StartTime: p.startTime ?? '2026-12-03T06:00:00.000Z' },
        State: { Name: p.state ?? 'ChargeCard', EnteredTime: p.enteredTime ?? new Date().toISOString(), RetryCount: p.retryCount ?? 0 },
        StateMachine: { Id: `arn:aws:states:${o.region}:${o.account}:stateMachine:${sm}`, Name: sm },
    };
}

// A durable function's invocation: the envelope with the checkpointed execution state, the
// user's input as the first operation's InputPayload (a JSON string). p: {function, name,
// input, replay (operations already done: a later invocation of the same execution)}.
export function durableEnvelope(o, p) {
    const name = p.name ?? 'order-o-1';
    const ops = [{ Id: '0', Type: 'EXECUTION', Status: 'STARTED', StartTimestamp: new Date().toISOString(), ExecutionDetails: { InputPayload: JSON.stringify(p.input ?? {}) } }];
    for (let i = 1; i <= (p.replay ?? 0); i++) ops.push({ Id: String(i), Type: 'STEP', Status: 'SUCCEEDED', Name: `step-${i}`, StepDetails: { Result: '"done"' } });
    return {
        DurableExecutionArn: `arn:aws:lambda:${o.region}:${o.account}:function:${p.function ?? 'orders-fn'}:1/durable-execution/${name}/${randomUUID()}`,
        CheckpointToken: randomBytes(24).toString('base64'),
        InitialExecutionState: { Operations: ops, NextMarker: '' },
    };
}
