/* tools/clmp/main.c: the clmp command: dispatch to subcommands (git style) through one table. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"devices", "list every OpenCL device and the reference, and which one 'auto' picks",
     cmd_devices},
    {"verify", "check every op on a device against the CPU reference", cmd_verify},
    {"train", "train an MLP on Fashion-MNIST in fp16, bf16 or fp32", cmd_train},
    {"bench", "GEMM, optimizer, start-up and training throughput against references", cmd_bench},
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void print_help(FILE *out) {
  fprintf(out,
          "usage: clmp [--version] [--help] <command> [<args>]\n\n"
          "clmp %s: mixed-precision neural-network training on any OpenCL device.\n\n"
          "Commands:\n",
          CLMP_VERSION_STRING);
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\nRun 'clmp <command> --help' for a command's options.\n"
               "Environment: CLMP_DEVICE (default device), CLMP_CACHE_DIR, CLMP_CACHE=0,\n"
               "CLMP_KERNEL_DIR (read kernels from a folder).\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_help(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
    print_help(stdout);
    return CLI_OK;
  }
  if (!strcmp(name, "--version")) {
    printf("clmp %s\n", CLMP_VERSION_STRING);
    return CLI_OK;
  }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "clmp: '%s' is not a clmp command. See 'clmp --help'.\n", name);
  return CLI_USAGE;
}
