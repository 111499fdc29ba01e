import { referenceKernels } from "../support/reference-kernels";
import { runKernelSuite } from "./kernels.suite";

// the oracle passes the same suite (with a looser bound: Golub–Kahan on the dense product)
runKernelSuite(() => referenceKernels, { factor: 64 });
