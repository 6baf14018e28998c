// The OpenAPI 3.1 document of the REST API, generated from the same zod schemas the service and
// the tRPC procedures use.
import { z } from "zod";
import {
  BatchPredictRequest,
  BatchPredictResponse,
  CustomerImportRequest,
  CustomerImportResponse,
  CustomerProfile,
  HealthResponse,
  IngestResponse,
  OutcomeRequest,
  OutcomeResponse,
  PlanBudgetRequest,
  PlanBudgetResponse,
  PredictRequest,
  PredictResponse,
} from "../contract/api.ts";
import { IngestRequest } from "../contract/events.ts";

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string() })),
  }),
});

function schema(s: z.ZodType, io: "input" | "output") {
  return z.toJSONSchema(s, { target: "draft-2020-12", io, unrepresentable: "any" });
}

const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });
const errors = {
  "400": { description: "Invalid request: every problem listed by field path", content: json("Error") },
  "413": { description: "Body or batch over the configured limit", content: json("Error") },
  "415": { description: "Content type is not application/json", content: json("Error") },
};

export function openApiDocument(version: string) {
  return {
    openapi: "3.1.0",
    info: { title: "Churn-intervention recommender", version, description: "Churn risk, treatment effects with intervals, and the recommended retention intervention." },
    paths: {
      "/predict": {
        post: {
          operationId: "predict",
          summary: "Score one customer and recommend an intervention",
          requestBody: { required: true, content: json("PredictRequest") },
          responses: { "200": { description: "The recommendation", content: json("PredictResponse") }, ...errors },
        },
      },
      "/batch-predict": {
        post: {
          operationId: "batchPredict",
          summary: "Score many customers, optionally allocating a budget across them",
          requestBody: { required: true, content: json("BatchPredictRequest") },
          responses: { "200": { description: "One result per customer, same order, and a summary", content: json("BatchPredictResponse") }, ...errors },
        },
      },
      "/plan-budget": {
        post: {
          operationId: "planBudget",
          summary: "Allocate a budget over customers' scored options (e.g. a file scored in chunks with dry_run)",
          requestBody: { required: true, content: json("PlanBudgetRequest") },
          responses: { "200": { description: "Each customer's planned intervention or null, and the totals", content: json("PlanBudgetResponse") }, ...errors },
        },
      },
      "/outcomes": {
        post: {
          operationId: "recordOutcome",
          summary: "Observed churn for earlier predictions (by prediction_id, or a customer's latest)",
          requestBody: { required: true, content: json("OutcomeRequest") },
          responses: { "200": { description: "Which outcomes joined a prediction, and why the others did not", content: json("OutcomeResponse") }, ...errors },
        },
      },
      "/events": {
        post: {
          operationId: "ingestEvents",
          summary: "Customer events (one, or { events: [...] }); triggering types score their customer at the event's instant",
          requestBody: { required: true, content: json("IngestRequest") },
          responses: { "200": { description: "Each event applied or a duplicate, and the triggered predictions", content: json("IngestResponse") }, ...errors },
        },
      },
      "/customers/{customer_id}": {
        get: {
          operationId: "getCustomer",
          summary: "A customer's profile as the model would see it at as_of, each field with its source",
          parameters: [
            { name: "customer_id", in: "path", required: true, schema: { type: "string" } },
            { name: "as_of", in: "query", required: false, schema: { type: "string", format: "date-time" } },
          ],
          responses: { "200": { description: "The profile", content: json("CustomerProfile") }, "404": { description: "A customer the service knows nothing about", content: json("Error") }, ...errors },
        },
      },
      "/customers/import": {
        post: {
          operationId: "importCustomers",
          summary: "Rows of an existing customer table; a row with any problem is refused whole, the others imported",
          requestBody: { required: true, content: json("CustomerImportRequest") },
          responses: { "200": { description: "How many rows were imported, and every refused row with its problems", content: json("CustomerImportResponse") }, ...errors },
        },
      },
      "/health": {
        get: {
          operationId: "health",
          summary: "Liveness, readiness, bundle version, uptime",
          responses: { "200": { description: "Health", content: json("HealthResponse") } },
        },
      },
    },
    components: {
      schemas: {
        PredictRequest: schema(PredictRequest, "input"),
        PredictResponse: schema(PredictResponse, "output"),
        BatchPredictRequest: schema(BatchPredictRequest, "input"),
        BatchPredictResponse: schema(BatchPredictResponse, "output"),
        PlanBudgetRequest: schema(PlanBudgetRequest, "input"),
        PlanBudgetResponse: schema(PlanBudgetResponse, "output"),
        OutcomeRequest: schema(OutcomeRequest, "input"),
        OutcomeResponse: schema(OutcomeResponse, "output"),
        IngestRequest: schema(IngestRequest, "input"),
        IngestResponse: schema(IngestResponse, "output"),
        CustomerProfile: schema(CustomerProfile, "output"),
        CustomerImportRequest: schema(CustomerImportRequest, "input"),
        CustomerImportResponse: schema(CustomerImportResponse, "output"),
        HealthResponse: schema(HealthResponse, "output"),
        Error: schema(ErrorBody, "output"),
      },
    },
  };
}
