/* SPDX-License-Identifier: Apache-2.0 */
/* Batch truth from the event: how often each record was delivered (ApproximateReceiveCount) and
 * when it was sent (SQS SentTimestamp, SNS Timestamp, Kinesis/DynamoDB arrival, EventBridge
 * time), on every record's link and over the whole batch, including records with no context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/promote/promote.h"
#include "tests/lib/tap.h"

#define TPA "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static struct promote_analysis *analyse(const char *ev)
{
    static const struct promote_conf conf = {.targets = PROMOTE_TARGET_HEADERS,
                                             .batch_parent = PROMOTE_BATCH_FIRST,
                                             .max_event_bytes = 8u << 20};
    struct promote_analysis *a = calloc(1, sizeof(*a));
    struct promote_input in = {.body = ev, .body_len = strlen(ev)};

    promote_analyse(&conf, &in, a);
    return a;
}

static void done(struct promote_analysis *a)
{
    promote_analysis_free(a);
    free(a);
}

/* One SQS record: id, receive count, sent time, with or without a traceparent. */
static int sqs_record(char *out, size_t cap, int i, const char *count, const char *sent, bool tp)
{
    return snprintf(out, cap,
                    "%s{\"messageId\":\"m%d\",\"body\":\"x\",\"attributes\":{"
                    "\"ApproximateReceiveCount\":\"%s\",\"SentTimestamp\":\"%s\"},"
                    "\"messageAttributes\":{%s},\"eventSource\":\"aws:sqs\","
                    "\"eventSourceARN\":\"arn:aws:sqs:us-east-1:1:q\"}",
                    i ? "," : "", i, count, sent,
                    tp ? "\"traceparent\":{\"stringValue\":\"" TPA "\",\"dataType\":\"String\"}"
                       : "");
}

static void test_sqs(struct tap *t)
{
    char ev[4096] = "{\"Records\":[";
    size_t n = strlen(ev);
    struct promote_analysis *a;

    n += (size_t)sqs_record(ev + n, sizeof(ev) - n, 0, "1", "1545082649183", true);
    n += (size_t)sqs_record(ev + n, sizeof(ev) - n, 1, "3", "1545082640000", true);
    n += (size_t)sqs_record(ev + n, sizeof(ev) - n, 2, "2", "1545082650000", false);
    n += (size_t)sqs_record(ev + n, sizeof(ev) - n, 3, "x7", "soon", true);
    snprintf(ev + n, sizeof(ev) - n, "]}");
    a = analyse(ev);
    is_int(t, a->info.trigger, TRIGGER_SQS, "an SQS batch");
    is_int(t, a->n_links, 3, "a link per record with a context");
    is_int(t, a->info.redelivered, 2, "two records were delivered before (3 and 2)");
    is_int(t, a->info.max_receive_count, 3, "the highest receive count");
    is_int(t, a->info.oldest_sent_ms, 1545082640000, "the oldest send time, of any record");
    is_int(t, a->links[0].receive_count, 1, "first link: delivered once");
    is_int(t, a->links[0].sent_ms, 1545082649183, "first link: its send time");
    is_int(t, a->links[1].receive_count, 3, "second link: the third delivery");
    is_str(t, a->links[2].message_id, "m3", "third link is the fourth record's");
    is_int(t, a->links[2].receive_count, 0, "a count that is not a number is not said");
    is_int(t, a->links[2].sent_ms, 0, "a time that is not a time is not said");
    done(a);
}

static void test_times(struct tap *t)
{
    struct promote_analysis *a;

    a = analyse(
        "{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"MessageId\":\"s1\","
        "\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"Timestamp\":\"2019-01-02T12:45:07.000Z\","
        "\"MessageAttributes\":{\"traceparent\":{\"Type\":\"String\",\"Value\":\"" TPA "\"}}}}]}");
    is_int(t, a->info.trigger, TRIGGER_SNS, "an SNS record");
    is_int(t, a->info.oldest_sent_ms, 1546433107000, "SNS Timestamp (RFC 3339)");
    is_int(t, a->n_links ? a->links[0].sent_ms : 0, 1546433107000, "on its link too");
    done(a);
    a = analyse("{\"version\":\"0\",\"id\":\"e\",\"detail-type\":\"d\",\"source\":\"s\","
                "\"time\":\"2017-12-22T18:43:48Z\",\"resources\":[],\"detail\":{}}");
    is_int(t, a->info.trigger, TRIGGER_EVENTBRIDGE, "an EventBridge event");
    is_int(t, a->info.oldest_sent_ms, 1513968228000, "EventBridge time");
    done(a);
    a = analyse("{\"time\":\"2017-12-22T18:43:48Z\",\"x\":1}");
    is_int(t, a->info.oldest_sent_ms, 0,
           "a `time` of a direct invoke is the user's, not a send time");
    done(a);
    a = analyse("{\"Records\":[{\"kinesis\":{\"sequenceNumber\":\"1\",\"data\":\"e30=\","
                "\"approximateArrivalTimestamp\":1545084650.987},\"eventSource\":\"aws:kinesis\","
                "\"eventSourceARN\":\"arn:aws:kinesis:us-east-1:1:stream/s\"}]}");
    is_int(t, a->info.oldest_sent_ms, 1545084650987, "Kinesis arrival (seconds, a number)");
    done(a);
    a = analyse("{\"Records\":[{\"dynamodb\":{\"ApproximateCreationDateTime\":1479499740,"
                "\"SequenceNumber\":\"1\"},\"eventSource\":\"aws:dynamodb\","
                "\"eventSourceARN\":\"arn:aws:dynamodb:us-east-1:1:table/t/stream/x\"}]}");
    is_int(t, a->info.oldest_sent_ms, 1479499740000, "DynamoDB creation time (seconds)");
    done(a);
    a = analyse("{\"eventSource\":\"aws:kafka\",\"records\":{\"orders-0\":[{\"topic\":\"orders\","
                "\"partition\":0,\"offset\":15,\"timestamp\":1545084650987,\"value\":\"e30=\","
                "\"headers\":[]},{\"topic\":\"orders\",\"partition\":0,\"offset\":16,\"timestamp\":"
                "1545084650000,\"value\":\"e30=\",\"headers\":[]}]}}");
    is_int(t, a->info.trigger, TRIGGER_KAFKA, "a Kafka batch");
    is_int(t, a->info.oldest_sent_ms, 1545084650000, "Kafka record timestamps (ms): the oldest");
    done(a);
}

/* 10 000 records: counts over all of them, links bounded. */
static void test_large(struct tap *t)
{
    size_t cap = 10000 * 400, n;
    char *ev = malloc(cap);
    struct promote_analysis *a;

    n = (size_t)snprintf(ev, cap, "{\"Records\":[");
    for (int i = 0; i < 10000; i++)
        n += (size_t)sqs_record(ev + n, cap - n, i, i % 10 == 0 ? "2" : "1", "1545082649183", true);
    snprintf(ev + n, cap - n, "]}");
    a = analyse(ev);
    is_int(t, a->info.redelivered, 1000, "10 000 records: every tenth redelivered, all counted");
    is_int(t, a->n_links, PROMOTE_MAX_LINKS, "links stay bounded");
    done(a);
    free(ev);
}

int main(void)
{
    struct tap t = TAP_INIT;

    test_sqs(&t);
    test_times(&t);
    test_large(&t);
    return tap_done(&t);
}
