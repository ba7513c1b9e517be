using Xunit;

// The test collections run one after another. Side by side on a CPU of two cores the suite took 9 to 13.5 minutes from
// run to run (three runs of one build), in sequence 11.5: ILGPU's CPU accelerator runs a group's threads to barriers, and
// beside another collection's work (PTX compiles above all) its tests took up to five times as long as alone
// (ArTrainerTests' ilgpu-cpu step 8 s alone, 42 s beside the PTX tests). Tests that need threads start their own.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
