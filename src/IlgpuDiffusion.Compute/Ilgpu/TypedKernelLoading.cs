using ILGPU;
using ILGPU.Runtime;

namespace IlgpuDiffusion.Ilgpu;

/// <summary>
/// <see cref="KernelLoader"/> in the shapes of ILGPU's own loaders: a kernel's delegate in, a launcher of the same
/// parameters out (after the stream and the <c>KernelConfig</c>, or the index of an implicitly grouped kernel), so a
/// launcher's type follows from its kernel's at compile time. Only the counts of parameters the library's kernels have.
/// </summary>
internal static class TypedKernelLoading
{
    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3>
        LoadCached<T1, T2, T3>(this Accelerator accelerator,
        Action<T1, T2, T3> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>
        LoadCached<T1, T2, T3, T4>(this Accelerator accelerator,
        Action<T1, T2, T3, T4> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>
        LoadCached<T1, T2, T3, T4, T5>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>
        LoadCached<T1, T2, T3, T4, T5, T6>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5, T6> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>
        LoadCached<T1, T2, T3, T4, T5, T6, T7, T8>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>
        LoadCached<T1, T2, T3, T4, T5, T6, T7, T8, T9>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>
        LoadCached<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>
        LoadCached<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(this Accelerator accelerator,
        Action<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> kernel, KernelSpecialization specialization = default) =>
        KernelLoader.Load<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>>(
            accelerator, kernel.Method, specialization);

    public static Action<AcceleratorStream, TIndex, T1, T2>
        LoadCachedAutoGrouped<TIndex, T1, T2>(this Accelerator accelerator,
        Action<TIndex, T1, T2> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5, T6>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5, T6> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5, T6, T7>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5, T6, T7> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5, T6, T7, T8>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5, T6, T7, T8> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);

    public static Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>
        LoadCachedAutoGrouped<TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(this Accelerator accelerator,
        Action<TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> kernel)
        where TIndex : struct, IIndex =>
        KernelLoader.Load<Action<AcceleratorStream, TIndex, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>>(
            accelerator, kernel.Method, KernelSpecialization.Empty);
}
