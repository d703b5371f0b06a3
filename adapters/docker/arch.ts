// The device's arch+variant as Docker and the studio spell it ("amd64", "arm64",
// "armv7"), used in image names and to pick `Dockerfile.<arch>`.

export function dockerArch(nodeArch: string = process.arch, armVersion?: string): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'arm': {
      const v = armVersion ?? String((process.config.variables as Record<string, unknown>)['arm_version'] ?? '7');
      return `armv${v}`;
    }
    default:
      return nodeArch; // arm64, ppc64, s390x, riscv64 already match
  }
}
