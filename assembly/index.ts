// The WebAssembly core: one module, both models. Only numbers cross the boundary;
// tables and rows live in linear memory that the host writes through typed-array views.
export { alloc, free } from "./memory";
export { gbdt_predict_raw, gbdt_predict, gbdt_predict_leaf, gbdt_scratch_bytes } from "./gbdt";
export { gbdt_predict_contrib } from "./treeshap";
export { forest_effects, forest_scratch_bytes } from "./forest";
