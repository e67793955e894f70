/* byo.c — a researcher's own MPI program for it_byo: built on the host against the system's
 * MPICH and a library of its own (libbyo-TAG.so), run in the guests without rebuilding them. */
#include <mpi.h>
#include <stdio.h>

const char *byo_tag(void); /* from the program's own library */

int main(int argc, char **argv)
{
	int rank, size, one = 1, sum = 0;
	char host[MPI_MAX_PROCESSOR_NAME];
	int len;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(host, &len);
	MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("{\"rank\": %d, \"size\": %d, \"sum\": %d, \"tag\": \"%s\", \"host\": \"%s\"}\n",
	       rank, size, sum, byo_tag(), host);
	MPI_Finalize();
	return 0;
}
