// The JSON API the CLI uses, same origin: POST / with Step Functions' JSON 1.0 protocol.
// Step Functions' operations go under AWSStepFunctions.<Op>, stepq's own under Stepq.<Op>.

export class ApiError extends Error {
  constructor(type, message, status) {
    super(`${type}: ${message}`);
    this.type = type;
    this.status = status;
  }
}

// The person the task inbox acts as, against a server that trusts X-Stepq-Dev-User
// (`stepq dev --dev-identities`): kept for this tab only, sent only on the people
// operations (an execution page read with it would see task tokens redacted).
const DEV_USER_KEY = "stepq.devUser";
const PEOPLE_OPERATIONS = new Set([
  "CreateRequest", "DescribeRequest", "ListMyTasks", "ListRequestTasks", "DescribeTask",
  "ActOnTask", "ClaimTask", "UnclaimTask", "DelegateTask", "ReassignTask", "AddNote",
  "AttachFile", "ConfirmAttachment", "GetAttachment", "WhoAmI",
]);

export function devUser() {
  return sessionStorage.getItem(DEV_USER_KEY) || "";
}

export function setDevUser(name) {
  const clean = String(name || "").trim();
  if (clean) sessionStorage.setItem(DEV_USER_KEY, clean);
  else sessionStorage.removeItem(DEV_USER_KEY);
}

export async function call(operation, body = {}) {
  const target = operation.includes(".") ? operation : `AWSStepFunctions.${operation}`;
  const headers = { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target };
  const user = devUser();
  if (user && target.startsWith("Stepq.") && PEOPLE_OPERATIONS.has(target.slice(6))) {
    headers["X-Stepq-Dev-User"] = user;
  }
  const response = await fetch("/", {
    method: "POST",
    headers,
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
