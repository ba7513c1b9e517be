using System.Runtime.CompilerServices;

// ILGPU emits kernel launchers into its dynamic "ILGPURuntime" assembly; they must see the
// internal argument structs (GemmArguments, ...) that kernels take by value.
[assembly: InternalsVisibleTo("ILGPURuntime")]
