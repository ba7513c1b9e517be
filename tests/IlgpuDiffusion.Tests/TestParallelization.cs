using Xunit;

// The test collections run one after another. Side by side on a CPU of two cores one build's suite took 9 and 12 minutes
// in two runs, in sequence 11.5 (10.8 in CI's fresh clone): ILGPU's CPU accelerator runs a group's threads to barriers,
// and beside another collection's work (PTX compiles above all) its tests took up to five times as long as alone
// (ArTrainerTests' ilgpu-cpu step: 8 s alone, 42 s in the suite side by side). Tests that need threads start their own.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
