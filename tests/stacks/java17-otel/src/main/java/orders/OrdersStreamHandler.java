// SPDX-License-Identifier: Apache-2.0
package orders;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** A stream handler: the raw event bytes in, a JSON answer out. */
public class OrdersStreamHandler implements RequestStreamHandler {
  @Override
  public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
    String raw = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    Recorder.record(Map.of("raw", raw), context);
    byte[] answer = Recorder.businessLogic(1, () -> "{\"processed\":1}".getBytes(StandardCharsets.UTF_8));
    out.write(answer);
  }
}
