// The JSON API the CLI uses, same origin: POST / with Step Functions' JSON 1.0 protocol.
// Step Functions' operations go under AWSStepFunctions.<Op>, stepq's own under Stepq.<Op>.

export class ApiError extends Error {
  constructor(type, message, status) {
    super(`${type}: ${message}`);
    this.type = type;
    this.status = status;
  }
}

export async function call(operation, body = {}) {
  const target = operation.includes(".") ? operation : `AWSStepFunctions.${operation}`;
  const response = await fetch("/", {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError("BadReply", text.slice(0, 200), response.status);
  }
  if (!response.ok) {
    const type = String(data.__type || response.status).split("#").pop();
    throw new ApiError(type, data.message || data.Message || text, response.status);
  }
  return data;
}
