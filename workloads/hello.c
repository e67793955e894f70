/* hello.c — mc-hello: the smallest MPI job (launch-time benchmark): one line per rank. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char host[MPI_MAX_PROCESSOR_NAME];
	int rank, size, len;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: mc-hello\nMPI_Init, prints \"hello RANK of SIZE on HOST\", "
		       "MPI_Finalize.\n");
		return 0;
	}
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(host, &len);
	printf("hello %d of %d on %s\n", rank, size, host);
	MPI_Finalize();
	return 0;
}
