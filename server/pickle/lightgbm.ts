// LightGBM's model text from a pickled LGBMClassifier or bare Booster: Booster.__getstate__
// replaces the C handle by model_to_string(), so the pickled `_handle` is the complete text model.
import { PickleError } from "./errors.ts";
import { describe } from "./numpy.ts";
import { ints, StateView } from "./state.ts";
import { PyObject, type PickleValue } from "./values.ts";

const CLASSIFIER = "lightgbm.sklearn.LGBMClassifier";
const BOOSTER = "lightgbm.basic.Booster";

export interface ExtractedBooster {
  /** The model in LightGBM's text format, exactly as pickled. */
  text: string;
  /** Which object the file held. */
  pickled: typeof CLASSIFIER | typeof BOOSTER;
}

export function lightgbmFromPickle(root: PickleValue, file: string): ExtractedBooster {
  const cls = root instanceof PyObject ? root.class : undefined;
  if (cls === CLASSIFIER) {
    const clf = StateView.of(root, CLASSIFIER, file, "model");
    // The churn probability is the booster's output for class index 1: that must mean "churned".
    if (clf.int("_n_classes") !== 2) clf.refuse("_n_classes", `expected a binary classifier (2 classes), found ${clf.int("_n_classes")}`);
    const classes = ints(clf.array("_classes", "iu"), clf.failer("_classes"));
    if (classes.length !== 2 || classes[0] !== 0 || classes[1] !== 1) clf.refuse("_classes", `expected the labels [0, 1], found [${Array.from(classes).join(", ")}]`);
    return { text: boosterText(clf.child("_Booster", BOOSTER)), pickled: CLASSIFIER };
  }
  if (cls === BOOSTER) return { text: boosterText(StateView.of(root, BOOSTER, file, "model")), pickled: BOOSTER };
  throw new PickleError(file, "model", `expected a ${CLASSIFIER} or ${BOOSTER} object, found ${describe(root)}`);
}

function boosterText(booster: StateView): string {
  const text = booster.string("_handle");
  if (!text.startsWith("tree\n")) booster.fail("_handle", "expected LightGBM's text model (starting with a \"tree\" line)");
  // Pandas categorical columns would take category codes where the pipeline gives one-hot columns.
  const cats = booster.raw("pandas_categorical");
  if (!(cats === null || (Array.isArray(cats) && cats.length === 0))) booster.refuse("pandas_categorical", "the model was trained on pandas categorical columns, which the feature pipeline does not produce");
  // After early stopping LightGBM predicts with the first best_iteration iterations, but the
  // pickled text holds them all: evaluating it would give other numbers than the library.
  const best = booster.int("best_iteration");
  if (best > 0) booster.refuse("best_iteration", `the model was trained with early stopping (best iteration ${best}); LightGBM predicts with those iterations only, the pickled text holds all of them: save it with model_to_string(num_iteration=${best}) instead`);
  return text;
}
