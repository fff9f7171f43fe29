// SPDX-License-Identifier: Apache-2.0
package orders;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.events.SQSBatchResponse;
import com.amazonaws.services.lambda.runtime.events.SQSEvent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A typed SQS handler with partial batch responses, as SQS-triggered Java functions are written. */
public class OrdersSqsHandler implements RequestHandler<SQSEvent, SQSBatchResponse> {
  @Override
  public SQSBatchResponse handleRequest(SQSEvent event, Context context) {
    List<Object> records = new ArrayList<>();
    for (SQSEvent.SQSMessage m : event.getRecords()) {
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("messageId", m.getMessageId());
      r.put("body", m.getBody());
      r.put("messageAttributes", new ArrayList<>(m.getMessageAttributes().keySet()));
      records.add(r);
    }
    Recorder.record(Map.of("Records", records), context);
    return Recorder.businessLogic(records.size(), () -> new SQSBatchResponse(new ArrayList<>()));
  }
}
