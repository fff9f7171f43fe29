// SPDX-License-Identifier: Apache-2.0
package orders;

import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.Context;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * What every test handler does: records the event it received (HANDLER_EVENTS_OUT, one JSON line
 * per invocation, the shape tests/handlers/orders.mjs writes) and runs its work in one child span,
 * business_logic, under the span the instrumentation made for the invocation.
 */
final class Recorder {
  private static final Tracer TRACER = GlobalOpenTelemetry.getTracer("orders-handler");

  private Recorder() {}

  static void record(Object event, Context context) {
    String file = System.getenv("HANDLER_EVENTS_OUT");
    if (file == null || file.isEmpty()) {
      return;
    }
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("requestId", context.getAwsRequestId());
    line.put("event", event);
    ClientContext cc = context.getClientContext();
    line.put("clientContext", cc == null ? null : Map.of("custom", cc.getCustom() == null ? Map.of() : cc.getCustom()));
    line.put("xrayEnv", System.getProperty("com.amazonaws.xray.traceHeader"));
    line.put("runtimeApi", System.getenv("AWS_LAMBDA_RUNTIME_API"));
    line.put("at", System.currentTimeMillis());
    SpanContext sc = Span.current().getSpanContext();
    line.put("activeSpan", sc.isValid() ? Map.of("traceId", sc.getTraceId(), "spanId", sc.getSpanId()) : null);
    line.put("java", System.getProperty("java.specification.version"));
    try {
      Files.write(Path.of(file), (Json.write(line) + "\n").getBytes(StandardCharsets.UTF_8),
          StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    } catch (IOException e) {
      System.err.println("handler: cannot record the event: " + e);
    }
  }

  static <T> T businessLogic(int count, Supplier<T> work) {
    Span span = TRACER.spanBuilder("business_logic").startSpan();
    try (Scope ignored = span.makeCurrent()) {
      span.setAttribute("orders.count", count);
      sleep();
      return work.get();
    } finally {
      span.end();
    }
  }

  private static void sleep() {
    long ms = 15;
    String v = System.getenv("HANDLER_WORK_MS");
    if (v != null && !v.isEmpty()) {
      ms = Long.parseLong(v);
    }
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
