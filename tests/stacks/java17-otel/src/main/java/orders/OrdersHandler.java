// SPDX-License-Identifier: Apache-2.0
package orders;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.List;
import java.util.Map;

/** A generic handler (the event as a Map), for SNS, EventBridge, direct invokes and HTTP events. */
public class OrdersHandler implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Recorder.record(event, context);
    int n = event.get("Records") instanceof List<?> l ? l.size() : 1;
    return Recorder.businessLogic(n, () -> event.containsKey("requestContext")
        ? Map.of("statusCode", 200, "body", "{\"processed\":" + n + "}")
        : Map.of("processed", n));
  }
}
