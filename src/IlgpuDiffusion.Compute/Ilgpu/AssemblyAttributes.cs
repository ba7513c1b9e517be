using System.Runtime.CompilerServices;
using IlgpuDiffusion.Ilgpu.Kernels;

// ILGPU emits kernel launchers into its dynamic "ILGPURuntime" assembly; they must see the
// internal argument structs (GemmArguments, ...) that kernels take by value.
[assembly: InternalsVisibleTo("ILGPURuntime")]
