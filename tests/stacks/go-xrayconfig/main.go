// SPDX-License-Identifier: Apache-2.0
// Test function for the go-xrayconfig stack: a provided.al2023-style Go binary built with the real
// github.com/aws/aws-lambda-go runtime client and the real otellambda instrumentation configured
// with its xrayconfig package as its README shows (xrayconfig.WithRecommendedOptions: the parent
// comes from _X_AMZN_TRACE_ID through the X-Ray propagator, X-Ray ids, the Lambda resource
// detector), except that the exporter is OTLP/HTTP (xrayconfig.NewTracerProvider hard-codes
// OTLP/gRPC), reading the standard OTEL_EXPORTER_OTLP_* variables.
//
// The handler records the event it received (HANDLER_EVENTS_OUT, one JSON line per invocation,
// the same shape as tests/handlers/orders.mjs writes) and makes one child span, business_logic,
// under the instrumentation's invocation span.
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	lambdadetector "go.opentelemetry.io/contrib/detectors/aws/lambda"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda"
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-lambda-go/otellambda/xrayconfig"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

type spanRef struct {
	TraceID string `json:"traceId"`
	SpanID  string `json:"spanId"`
}

type handled struct {
	RequestID     string          `json:"requestId"`
	Event         json.RawMessage `json:"event"`
	ClientContext any             `json:"clientContext"`
	XrayEnv       *string         `json:"xrayEnv"`
	RuntimeAPI    string          `json:"runtimeApi"`
	At            int64           `json:"at"`
	ActiveSpan    *spanRef        `json:"activeSpan"`
}

var tracer trace.Tracer

func record(ctx context.Context, event json.RawMessage) {
	file := os.Getenv("HANDLER_EVENTS_OUT")
	if file == "" {
		return
	}
	h := handled{Event: event, RuntimeAPI: os.Getenv("AWS_LAMBDA_RUNTIME_API"), At: time.Now().UnixMilli()}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		h.RequestID = lc.AwsRequestID
		if lc.ClientContext.Custom != nil {
			h.ClientContext = map[string]any{"custom": lc.ClientContext.Custom}
		}
	}
	if v, ok := os.LookupEnv("_X_AMZN_TRACE_ID"); ok {
		h.XrayEnv = &v
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		h.ActiveSpan = &spanRef{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String()}
	}
	line, err := json.Marshal(h)
	if err != nil {
		log.Printf("handler: cannot record the event: %v", err)
		return
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		log.Printf("handler: cannot record the event: %v", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

func workMs() time.Duration {
	if n, err := strconv.Atoi(os.Getenv("HANDLER_WORK_MS")); err == nil && n >= 0 {
		return time.Duration(n) * time.Millisecond
	}
	return 15 * time.Millisecond
}

func handle(ctx context.Context, event json.RawMessage) (map[string]any, error) {
	record(ctx, event)
	_, span := tracer.Start(ctx, "business_logic")
	defer span.End()
	var shape struct {
		Records        []json.RawMessage `json:"Records"`
		RequestContext json.RawMessage   `json:"requestContext"`
	}
	_ = json.Unmarshal(event, &shape)
	n := 1
	if shape.Records != nil {
		n = len(shape.Records)
	}
	span.SetAttributes(attribute.Int("orders.count", n))
	time.Sleep(workMs())
	if shape.RequestContext != nil {
		return map[string]any{"statusCode": 200, "body": `{"processed":` + strconv.Itoa(n) + `}`}, nil
	}
	return map[string]any{"processed": n}, nil
}

func newTracerProvider(ctx context.Context) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	detected, err := lambdadetector.NewResourceDetector().Detect(ctx)
	if err != nil {
		return nil, err
	}
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	res, err := resource.Merge(detected, resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithResource(res)), nil
}

func main() {
	ctx := context.Background()
	tp, err := newTracerProvider(ctx)
	if err != nil {
		log.Fatalf("handler: OTel SDK set-up failed: %v", err)
	}
	otel.SetTracerProvider(tp)
	tracer = tp.Tracer("orders-handler")
	lambda.Start(otellambda.InstrumentHandler(handle, xrayconfig.WithRecommendedOptions(tp)...))
}
