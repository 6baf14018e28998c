// The OpenAPI 3.1 document of the REST API, generated from the same zod schemas the service and
// the tRPC procedures use.
import { z } from "zod";
import {
  BatchPredictRequest,
  BatchPredictResponse,
  HealthResponse,
  OutcomeRequest,
  OutcomeResponse,
  PlanBudgetRequest,
  PlanBudgetResponse,
  PredictRequest,
  PredictResponse,
} from "../contract/api.ts";

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
        HealthResponse: schema(HealthResponse, "output"),
        Error: schema(ErrorBody, "output"),
      },
    },
  };
}
